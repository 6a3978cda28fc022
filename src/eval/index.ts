/** Evaluation: forecast files, metrics, baselines, significance tests, FinGPT and classification scoring. */
export * from './schema.js';
export * from './stats.js';
export * from './metrics.js';
export * from './baselines.js';
export * from './significance.js';
export * from './bootstrap.js';
export * from './samples.js';
export * from './evaluate.js';
export * from './porter.js';
export * from './rouge.js';
export * from './fingpt.js';
export * from './classification.js';
export * from './run.js';
