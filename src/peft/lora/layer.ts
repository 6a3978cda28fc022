/**
 * LoraLayer: wraps a linear layer (`base_layer`: Linear, GPT-2's Conv1D, or a quantized linear with the same
 * `forward(x)`) and adds, for each active adapter, scaling · B(A(dropout(x))) to the base output — PEFT's
 * lora.Linear. DoRA (use_dora) rescales each output feature by m / ‖W + s·BA‖ with that norm detached from the
 * graph (DoRA paper §4.3, as PEFT does), keeping the bias outside the rescaling.
 *
 * Weights are always handled as [out, in] here; a Conv1D base ([in, out], PEFT's fan_in_fan_out) is transposed
 * only where its weight is read or written (DoRA's norm, merge, unmerge).
 */
import { Module, param, withMatrixDtype } from '../../nn/module.js';
import { Linear } from '../../nn/layers.js';
import { noGrad } from '../../tensor/autograd.js';
import { addLinear, dropout, linear } from '../../tensor/nn_ops.js';
import { createRng, type Philox } from '../../tensor/rng.js';
import { empty, fromArray, type Tensor } from '../../tensor/tensor.js';
import { AdapterDict, isFanInFanOut, type LinearLike } from '../common.js';
import type { PeftWrapper } from '../state.js';

export interface LoraAdapterOptions {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  useDora: boolean;
  initLoraWeights: boolean | 'gaussian';
  /** Seed and stream of the initialization (one stream per layer and adapter, so layers differ). */
  seed: number;
  stream: string;
}

/** DoRA's magnitude vector: one value per output feature (PEFT's DoraLinearLayer, parameter `weight`). */
export class DoraMagnitude extends Module {
  weight: Tensor;
  constructor(init: Float32Array | Float64Array) {
    super();
    this.weight = param([init.length], { dtype: init instanceof Float64Array ? 'f64' : 'f32', init: init as Float32Array });
  }
}

/** The weight of a linear-like layer as an [out, in] tensor detached from the graph, in `dtype`. */
export function baseWeightOutIn(base: LinearLike, dtype: 'f32' | 'f64' = 'f32'): Tensor {
  const q = base as unknown as { dequantizeInto?: (dst: Float32Array | Float64Array) => void };
  if (typeof q.dequantizeInto === 'function') {
    const w = empty([base.outFeatures, base.inFeatures], dtype);
    q.dequantizeInto(w.buf as Float32Array);
    return w;
  }
  const w = (base as unknown as { weight: Tensor }).weight.detach();
  const asF = w.dtype === dtype ? w : w.to(dtype);
  return isFanInFanOut(base) ? asF.transpose(0, 1) : asF;
}

/** Write an [out, in] tensor back into a float (f32/f64) base weight, in the base's own layout. */
export function writeBaseWeight(base: LinearLike, wOutIn: Tensor): void {
  const w = (base as unknown as { weight?: Tensor }).weight;
  if (!w || (w.dtype !== 'f32' && w.dtype !== 'f64')) {
    throw new Error(
      `cannot merge into a ${w ? w.dtype : 'quantized'} base weight: dequantize the base first (merging makes it a float model; ` +
        'for an NF4 base the result is no longer 4-bit)',
    );
  }
  const src = isFanInFanOut(base) ? wOutIn.transpose(0, 1) : wOutIn;
  const vals = (src.dtype === w.dtype ? src : src.to(w.dtype)).toFlat() as Float32Array;
  (w.data as Float32Array).set(vals, w.offset);
}

export class LoraLayer extends Module implements PeftWrapper {
  readonly peftWrapper = true as const;
  base_layer: LinearLike;
  lora_A: AdapterDict<Linear>;
  lora_B: AdapterDict<Linear>;
  lora_magnitude_vector: AdapterDict<DoraMagnitude>;
  activeAdapters: string[] = [];
  /** Adapters currently folded into base_layer's weight, with DoRA's per-row factor to undo it. */
  private mergedAdapters = new Map<string, Tensor | null>();
  private settings = new Map<string, { scaling: number; dropout: number; dora: boolean; r: number; alpha: number }>();
  private rng: Philox;

  /** `stream` names this layer's dropout stream, so layers (and runs with other seeds) draw different masks. */
  constructor(base: LinearLike, seed = 0, stream = 'lora-dropout') {
    super();
    this.base_layer = base;
    this.lora_A = new AdapterDict();
    this.lora_B = new AdapterDict();
    this.lora_magnitude_vector = new AdapterDict();
    this.rng = createRng(seed, stream);
    // Plain bookkeeping must not look like parameters or children to Module's discovery.
    for (const k of ['mergedAdapters', 'settings', 'rng']) Object.defineProperty(this, k, { enumerable: false });
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }
  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }
  /** The base's bias (so code reading `layer.bias` still finds it). */
  get bias(): Tensor | null {
    return this.base_layer.bias;
  }
  set bias(_b: Tensor | null) {
    throw new Error('LoraLayer: set the bias on base_layer');
  }

  /** PEFT's fan_in_fan_out: a Conv1D base, or a quantized layer that replaced one (its weight is [out, in] now). */
  get fanInFanOut(): boolean {
    return isFanInFanOut(this.base_layer) || (this.base_layer as unknown as { sourceLayout?: string }).sourceLayout === 'in_out';
  }

  adapterNames(): string[] {
    return this.lora_A.names();
  }

  scaling(name: string): number {
    return this.need(name).scaling;
  }

  isMerged(name?: string): boolean {
    return name ? this.mergedAdapters.has(name) : this.mergedAdapters.size > 0;
  }

  private need(name: string) {
    const s = this.settings.get(name);
    if (!s) throw new Error(`LoraLayer: no adapter "${name}"`);
    return s;
  }

  /** Add an adapter (PEFT's update_layer): A [r, in], B [out, r], and for DoRA the magnitude ‖W‖ per output. */
  addAdapter(name: string, o: LoraAdapterOptions): void {
    if (this.settings.has(name)) throw new Error(`LoraLayer: adapter "${name}" exists`);
    if (!(Number.isInteger(o.r) && o.r > 0)) throw new Error(`LoRA: r must be a positive integer, got ${o.r}`);
    const baseW = (this.base_layer as unknown as { weight?: Tensor }).weight;
    const dtype = baseW?.dtype === 'f64' ? 'f64' : 'f32';
    const { inFeatures: nIn, outFeatures: nOut } = this;
    const [A, B] = withMatrixDtype(dtype, () => [new Linear(nIn, o.r, { bias: false }), new Linear(o.r, nOut, { bias: false })]);
    const rng = createRng(o.seed, o.stream);
    const a = A.weight.data as Float32Array;
    const b = B.weight.data as Float32Array;
    if (o.initLoraWeights === 'gaussian') {
      rng.fillNormal(a, 0, 1 / o.r);
      b.fill(0);
    } else {
      // torch's kaiming_uniform_(a=√5) on [r, in]: bound = gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√in.
      rng.fillUniform(a, -1 / Math.sqrt(nIn), 1 / Math.sqrt(nIn));
      if (o.initLoraWeights === false) rng.fillUniform(b, -1 / Math.sqrt(o.r), 1 / Math.sqrt(o.r));
      else b.fill(0);
    }
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    const scaling = o.useRslora ? o.loraAlpha / Math.sqrt(o.r) : o.loraAlpha / o.r;
    this.settings.set(name, { scaling, dropout: o.loraDropout, dora: o.useDora, r: o.r, alpha: o.loraAlpha });
    if (o.useDora) {
      const norm = noGrad(() => this.rowNorm(baseWeightOutIn(this.base_layer, dtype), this.loraWeight(name), scaling));
      this.lora_magnitude_vector.set(name, new DoraMagnitude(norm.toFlat() as Float32Array));
    }
    if (!this.activeAdapters.includes(name)) this.activeAdapters.push(name);
  }

  deleteAdapter(name: string): void {
    if (this.mergedAdapters.has(name)) this.unmerge(name);
    this.lora_A.delete(name);
    this.lora_B.delete(name);
    this.lora_magnitude_vector.delete(name);
    this.settings.delete(name);
    this.activeAdapters = this.activeAdapters.filter((n) => n !== name);
  }

  /** B·A [out, in] (a graph node when A or B requires grad). */
  loraWeight(name: string): Tensor {
    return this.lora_B.get(name)!.weight.matmul(this.lora_A.get(name)!.weight);
  }

  /** ‖W + s·ΔW‖ over each output row: DoRA's weight norm. */
  private rowNorm(w: Tensor, lw: Tensor, s: number): Tensor {
    return w.add(lw.mul(s)).square().sum(1).sqrt();
  }

  forward(x: Tensor): Tensor {
    // Merged adapters already live in the base weight; unmerged ones (if any were added since) are not applied,
    // as in PEFT, which forbids mixing merged and unmerged adapters in one forward.
    if (this.mergedAdapters.size) {
      if (this.activeAdapters.length === 0 || this.activeAdapters.some((n) => !this.mergedAdapters.has(n))) this.unmergeAll();
      else return this.base_layer.forward(x);
    }
    let result = this.base_layer.forward(x);
    for (const name of this.activeAdapters) {
      const s = this.settings.get(name);
      if (!s) continue;
      const A = this.lora_A.get(name)!.weight;
      const B = this.lora_B.get(name)!.weight;
      const dropping = this.training && s.dropout > 0;
      const xd = dropping ? dropout(x, s.dropout, this.rng) : x;
      if (!s.dora) {
        // scaling · B(A x) accumulated into the base output by the GEMM itself (no product, scaled copy or sum).
        // `result` is the base layer's fresh output (or the previous adapter's sum), dropped here: in place is safe.
        result = addLinear(result, linear(xd, A, null, 'out_in'), B, s.scaling, { inPlace: true });
        continue;
      }
      const lora = linear(linear(xd, A, null, 'out_in'), B, null, 'out_in');
      const dtype = x.dtype === 'f64' ? 'f64' : 'f32';
      const W = baseWeightOutIn(this.base_layer, dtype);
      // The norm is a constant for the backward pass (DoRA §4.3; PEFT detaches it), so it is built without a graph.
      const norm = noGrad(() => this.rowNorm(W, this.loraWeight(name), s.scaling));
      const scale = this.lora_magnitude_vector.get(name)!.weight.div(norm); // [out], grads reach the magnitude
      let baseOut: Tensor;
      const bias = this.base_layer.bias;
      if (!dropping) baseOut = bias ? result.sub(bias) : result;
      else baseOut = linear(xd, W, null, 'out_in'); // PEFT recomputes W·x on the dropped-out input
      result = result.add(scale.sub(1).mul(baseOut)).add(scale.mul(lora).mul(s.scaling));
    }
    return result;
  }

  /** Fold adapters into the base weight (PEFT's merge); the wrapper then runs the base alone. */
  merge(names: string[] = this.activeAdapters): void {
    noGrad(() => {
      for (const name of names) {
        if (this.mergedAdapters.has(name)) continue;
        const s = this.need(name);
        const w0 = (this.base_layer as unknown as { weight?: Tensor }).weight;
        const dtype = w0?.dtype === 'f64' ? 'f64' : 'f32';
        const W = baseWeightOutIn(this.base_layer, dtype).contiguous();
        const delta = this.loraWeight(name).mul(s.scaling);
        if (!s.dora) {
          writeBaseWeight(this.base_layer, W.add(delta));
          this.mergedAdapters.set(name, null);
        } else {
          const sum = W.add(delta);
          const factor = this.lora_magnitude_vector.get(name)!.weight.detach().div(sum.square().sum(1).sqrt()).contiguous();
          writeBaseWeight(this.base_layer, sum.mul(factor.unsqueeze(1)));
          this.mergedAdapters.set(name, fromArray(factor.toFlat(), [factor.size]).keep());
        }
      }
    });
  }

  /** Undo merge (the base weight returns up to rounding: W + Δ − Δ is not always W in floating point). */
  unmerge(name: string): void {
    const factor = this.mergedAdapters.get(name);
    if (factor === undefined) return;
    noGrad(() => {
      const s = this.need(name);
      const w0 = (this.base_layer as unknown as { weight?: Tensor }).weight;
      const dtype = w0?.dtype === 'f64' ? 'f64' : 'f32';
      const W = baseWeightOutIn(this.base_layer, dtype).contiguous();
      const delta = this.loraWeight(name).mul(s.scaling);
      const back = factor ? W.div(factor.unsqueeze(1)).sub(delta) : W.sub(delta);
      writeBaseWeight(this.base_layer, back);
    });
    this.mergedAdapters.delete(name);
  }

  unmergeAll(): void {
    for (const name of [...this.mergedAdapters.keys()].reverse()) this.unmerge(name);
  }

  /** Adapter settings (for saving configs and tests). */
  adapterSettings(name: string): { scaling: number; dropout: number; dora: boolean; r: number; alpha: number } {
    return { ...this.need(name) };
  }
}
