/**
 * fintune's library API.
 *
 * The everyday names are exported at the top level:
 *
 * ```ts
 * import { loadModel, loadTokenizer, applyMethod, loadAdapter, Trainer, generate, evaluate, backtest } from 'fintune';
 * ```
 *
 * and each area is also available whole as a namespace (`tensor`, `data`, `evaluation`, `backtesting`, `peft`,
 * `training`, `study`, `exporting`, `serve`) for everything else.
 */
export { VERSION } from './version.js';

// Models and checkpoints
export { loadModel, loadGPT2, checkpointFiles, type LoadOptions } from './models/load.js';
export { saveModel, type SaveOptions } from './models/save.js';
export { GPT2, type GPT2Options } from './models/gpt2.js';
export { Llama, type LlamaOptions } from './models/llama.js';
export type { CausalLM, ForwardOptions } from './models/common.js';
export { loadTokenizer, Tokenizer } from './io/tokenizer.js';
export { saveNumericTokenizer, trainNumericBpe } from './io/tokenizers/numeric.js';

// Fine-tuning methods (PEFT's formats)
export { applyMethod, methodNames, loadAdapter, saveAdapter, mergeAndUnload, trainableParameters, printTrainableParameters } from './peft/index.js';

// Training
export { Trainer, type TrainerConfig, type StepMetrics } from './train/trainer.js';

// Generation
export { generate, NumericListConstraint, parseNumberList, type GenerateOptions, type GenerateResult } from './generate/index.js';

// Evaluation and back-tests
export { evaluateForecasts as evaluate, evaluateForecasts, type EvaluationResults } from './eval/evaluate.js';
export { forecastWindows } from './eval/price_forecast.js';
export { forecastFromText } from './eval/forecaster.js';
export { runBacktest as backtest, runBacktest } from './backtest/backtest.js';

// Areas as namespaces
export * as tensor from './tensor/index.js';
export * as data from './data/index.js';
export * as evaluation from './eval/index.js';
export * as backtesting from './backtest/index.js';
export * as peft from './peft/index.js';
export * as training from './train/index.js';
export * as exporting from './export/index.js';
export * as serve from './serve/index.js';
