/**
 * Quantized frozen bases for QLoRA: bitsandbytes' NF4/FP4 with double quantization, int8 weight-only storage,
 * the QuantLinear module, model-wide quantization and bitsandbytes-serialized checkpoints. See
 * docs/quantization.md.
 */
export {
  NF4_CODE,
  NF4_THRESHOLDS,
  FP4_CODE,
  quantizeNf4Value,
  quantizeFp4Value,
  createDynamicMap,
  dynamicMap,
  quantizeToCode,
  type FourBitType,
  type TorchCpuKernel,
} from './codes.js';
export {
  quantize4bit,
  dequantize4bitInto,
  quantizeBlockwise,
  dequantizeBlockwise,
  doubleQuantize,
  dequantizeNestedAbsmax,
  type NestedAbsmax,
  type Packed4bit,
  type Blockwise8bit,
} from './blockwise.js';
export {
  Params4bit,
  Int8Weight,
  quantizeLinearWeight,
  dequantizeWeight,
  weightBytes,
  type QuantizedWeight,
  type QuantType,
  type QuantizeWeightOptions,
} from './weight.js';
export { QuantLinear, Linear4bit } from './linear4bit.js';
export {
  quantizeModel,
  quantizationTargets,
  quantizationReport,
  quantizedModules,
  quantizedWeightBytes,
  dequantizeModule,
  dequantizeModel,
  forgetQuantizationConfig,
  isQuantized,
  isQuantizable,
  replaceModule,
  getModule,
  type QuantizeModelOptions,
  type QuantizationReport,
  type Dequantized,
} from './model.js';
export {
  saveQuantizedCheckpoint,
  loadQuantizedCheckpoint,
  quantizedLayerTensors,
  params4bitFromTensors,
  packQuantState,
  parseQuantState,
  pyFloatRepr,
  bnbQuantizationConfig,
  type QuantStateJson,
  type SaveQuantizedOptions,
  type LoadQuantizedOptions,
  type LoadQuantizedReport,
} from './bnb_format.js';
export { loadQuantizedModel, saveQuantizedModel, type LoadQuantizedModelOptions } from './load_model.js';
