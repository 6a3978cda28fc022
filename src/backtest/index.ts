/** The back-test: forecasts → signals → positions → returns with costs, beside benchmarks (docs/backtest.md). */
export * from './errors.js';
export * from './prices.js';
export * from './metrics.js';
export * from './engine.js';
export * from './signals.js';
export * from './forecasts.js';
export * from './backtest.js';
export * from './walkforward.js';
export * from './portfolio.js';
export * from './output.js';
