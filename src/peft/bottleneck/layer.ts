/**
 * The bottleneck module (down → activation → up) and the wrappers that place it: after a sublayer's output
 * (Houlsby, Pfeiffer; the adapter has its own residual: y + up(act(down(y)))), or beside the FFN (parallel:
 * y + s·up(act(down(x))) on the FFN's input x). The up projection starts at zero, so training starts at the
 * base model exactly; the down projection is N(0, 0.02) with zero bias.
 */
import { Module, withMatrixDtype } from '../../nn/module.js';
import { Linear } from '../../nn/layers.js';
import { dropout, gelu, linear, silu } from '../../tensor/nn_ops.js';
import { createRng, type Philox } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { AdapterDict } from '../common.js';
import type { PeftWrapper } from '../state.js';

export class BottleneckAdapter extends Module {
  adapter_down: Linear;
  adapter_up: Linear;
  private rng: Philox;
  constructor(
    dim: number,
    size: number,
    readonly activation: 'relu' | 'gelu' | 'silu',
    readonly p: number,
    opts: { seed: number; stream: string; upInit: 'zero' | 'normal'; dtype?: 'f32' | 'f64' },
  ) {
    super();
    [this.adapter_down, this.adapter_up] = withMatrixDtype(opts.dtype ?? 'f32', () => [new Linear(dim, size), new Linear(size, dim)]);
    const rng = createRng(opts.seed, opts.stream);
    rng.fillNormal(this.adapter_down.weight.data as Float32Array, 0, 0.02);
    (this.adapter_down.bias!.data as Float32Array).fill(0);
    if (opts.upInit === 'zero') (this.adapter_up.weight.data as Float32Array).fill(0);
    else rng.fillNormal(this.adapter_up.weight.data as Float32Array, 0, 0.02);
    (this.adapter_up.bias!.data as Float32Array).fill(0);
    this.rng = createRng(opts.seed, opts.stream + ':dropout');
    Object.defineProperty(this, 'rng', { enumerable: false });
  }
  private act(x: Tensor): Tensor {
    return this.activation === 'relu' ? x.relu() : this.activation === 'gelu' ? gelu(x, false) : silu(x);
  }
  private drop(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p, this.rng) : x;
  }
  /** up(drop(act(down(h)))) then dropout: the adapter's contribution (without any residual). */
  forward(h: Tensor): Tensor {
    const d = this.act(linear(h, this.adapter_down.weight, this.adapter_down.bias, 'out_in'));
    return this.drop(linear(this.drop(d), this.adapter_up.weight, this.adapter_up.bias, 'out_in'));
  }
}

/** Wraps a sublayer (attention or MLP, any forward signature) and adds the active adapters after its output. */
export class BottleneckWrapper extends Module implements PeftWrapper {
  readonly peftWrapper = true as const;
  base_layer: Module & { forward(...a: unknown[]): Tensor };
  adapters: AdapterDict<BottleneckAdapter>;
  activeAdapters: string[] = [];
  constructor(
    base: Module,
    /** 'after': y + a(y); 'parallel': y + s·a(x) with x the sublayer's first argument. */
    readonly placement: 'after' | 'parallel',
    readonly scaling = 1,
  ) {
    super();
    this.base_layer = base as Module & { forward(...a: unknown[]): Tensor };
    this.adapters = new AdapterDict();
  }
  adapterNames(): string[] {
    return this.adapters.names();
  }
  deleteAdapter(name: string): void {
    this.adapters.delete(name);
    this.activeAdapters = this.activeAdapters.filter((n) => n !== name);
  }
  forward(...args: unknown[]): Tensor {
    let y = this.base_layer.forward(...args);
    for (const n of this.activeAdapters) {
      const a = this.adapters.get(n);
      if (!a) continue;
      y = this.placement === 'after' ? y.add(a.forward(y)) : y.add(a.forward(args[0] as Tensor).mul(this.scaling));
    }
    return y;
  }
}
