/**
 * IA3Layer (PEFT's ia3.Linear): a learned vector scales the base layer's output (ia3_l [out, 1]) or, for
 * feed-forward targets, its input (ia3_l [1, in]). Several active adapters multiply their vectors.
 */
import { Module, param } from '../../nn/module.js';
import { noGrad } from '../../tensor/autograd.js';
import { createRng } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { AdapterDict, isFanInFanOut, type LinearLike } from '../common.js';
import type { PeftWrapper } from '../state.js';
import { baseWeightOutIn, writeBaseWeight } from '../lora/layer.js';

export class IA3Layer extends Module implements PeftWrapper {
  readonly peftWrapper = true as const;
  base_layer: LinearLike;
  ia3_l: AdapterDict<Tensor>;
  activeAdapters: string[] = [];
  private merged: string[] = [];

  constructor(
    base: LinearLike,
    /** Scale the input (feed-forward targets) instead of the output. */
    readonly isFeedforward: boolean,
  ) {
    super();
    this.base_layer = base;
    this.ia3_l = new AdapterDict();
    Object.defineProperty(this, 'merged', { enumerable: false });
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }
  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }
  get bias(): Tensor | null {
    return this.base_layer.bias;
  }
  get fanInFanOut(): boolean {
    return isFanInFanOut(this.base_layer);
  }

  adapterNames(): string[] {
    return this.ia3_l.names();
  }

  addAdapter(name: string, init: boolean, seed = 0, stream = 'ia3'): void {
    const w = (this.base_layer as unknown as { weight?: Tensor }).weight;
    const dtype = w?.dtype === 'f64' ? 'f64' : 'f32';
    const shape = this.isFeedforward ? [1, this.inFeatures] : [this.outFeatures, 1];
    const p = param(shape, { dtype });
    if (init) (p.data as Float32Array).fill(1);
    else createRng(seed, stream).fillUniform(p.data as Float32Array, 0.5, 1.5);
    this.ia3_l.set(name, p);
    if (!this.activeAdapters.includes(name)) this.activeAdapters.push(name);
  }

  deleteAdapter(name: string): void {
    if (this.merged.includes(name)) this.unmerge();
    this.ia3_l.delete(name);
    this.activeAdapters = this.activeAdapters.filter((n) => n !== name);
  }

  /** Product of the active vectors, flattened to [features]. */
  private scale(names: string[]): Tensor | null {
    let s: Tensor | null = null;
    for (const n of names) {
      const v = this.ia3_l.get(n);
      if (!v) continue;
      const f = v.reshape(v.size);
      s = s ? s.mul(f) : f;
    }
    return s;
  }

  forward(x: Tensor): Tensor {
    if (this.merged.length) {
      if (this.activeAdapters.join() === this.merged.join()) return this.base_layer.forward(x);
      this.unmerge();
    }
    const s = this.scale(this.activeAdapters);
    if (!s) return this.base_layer.forward(x);
    return this.isFeedforward ? this.base_layer.forward(x.mul(s)) : this.base_layer.forward(x).mul(s);
  }

  /** Fold the active vectors into the weight (columns for feed-forward targets, rows and bias otherwise). */
  merge(names: string[] = this.activeAdapters): void {
    if (this.merged.length) this.unmerge();
    noGrad(() => {
      const s = this.scale(names);
      if (!s) return;
      const W = baseWeightOutIn(this.base_layer, s.dtype as 'f32' | 'f64');
      writeBaseWeight(this.base_layer, this.isFeedforward ? W.mul(s) : W.mul(s.unsqueeze(1)));
      const b = this.base_layer.bias;
      if (b && !this.isFeedforward) (b.data as Float32Array).set(b.mul(s).toFlat() as Float32Array, b.offset);
    });
    this.merged = [...names];
  }

  /** Divide the vectors back out (PEFT adds 1e-8 to the divisor against zeros; so does this). */
  unmerge(): void {
    noGrad(() => {
      const s = this.scale(this.merged);
      if (!s) return;
      const d = s.add(1e-8);
      const W = baseWeightOutIn(this.base_layer, s.dtype as 'f32' | 'f64');
      writeBaseWeight(this.base_layer, this.isFeedforward ? W.div(d) : W.div(d.unsqueeze(1)));
      const b = this.base_layer.bias;
      if (b && !this.isFeedforward) (b.data as Float32Array).set(b.div(d).toFlat() as Float32Array, b.offset);
    });
    this.merged = [];
  }

  isMerged(): boolean {
    return this.merged.length > 0;
  }
}
