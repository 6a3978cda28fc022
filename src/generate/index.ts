export { generate, pickToken, type GenerateOptions, type GenerateResult, type FinishReason } from './generate.js';
export { NumericListConstraint, parseNumberList, type NumericListOptions, type TokenConstraint } from './constrained.js';
