/** Parameter-efficient fine-tuning: every method, adapter files in PEFT's format, merging. See docs/peft.md. */
export { METHODS, applyMethod, getMethod, methodNames, type MethodSpec, type AppliedMethod } from './registry.js';
export { trainableParameters, printTrainableParameters, type TrainableCount } from './common.js';
export { setAdapter, withAdapter, withBaseOnly, peftState } from './state.js';
export { mergeAdapters, unmergeAdapters, mergeAndUnload } from './merge.js';
export { saveAdapter, adapterStateDict } from './save.js';
export { loadAdapter, readAdapterConfig } from './load.js';
export { injectLora } from './lora/model.js';
export { LoraLayer } from './lora/layer.js';
export type { LoraConfig } from './lora/config.js';
export { injectIa3 } from './ia3/model.js';
export { IA3Layer } from './ia3/layer.js';
export { injectPrefix } from './prefix/model.js';
export { injectPrompt } from './prompt/model.js';
export { applyBitFit } from './bitfit/model.js';
export { injectBottleneck } from './bottleneck/model.js';
export { applyFull } from './full/model.js';
