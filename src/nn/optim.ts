/**
 * Optimizers with PyTorch's exact update rules, and global-norm gradient clipping.
 *
 * State (moments, step counts) lives outside any tidy scope and can be exported with stateDict() and restored
 * with loadStateDict(), so a resumed run continues bit for bit.
 */
import { backendFor } from '../tensor/backends.js';
import type { Backend } from '../tensor/backend.js';
import { adamwUnfused, fusedKernels } from '../tensor/unfused.js';
import { newStorageUnscoped } from '../tensor/storage.js';
import { contiguousStrides, Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
  /** Free-form label for logs and checkpoints (e.g. 'decay', 'no_decay'). */
  name?: string;
}

interface ResolvedGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
  name: string;
}

function stateTensor(like: Tensor): Tensor {
  return new Tensor(newStorageUnscoped(like.dtype, like.size, true), [...like.shape], contiguousStrides(like.shape), 0);
}

function resolveGroups(params: Tensor[] | ParamGroup[], lr: number, weightDecay: number): ResolvedGroup[] {
  const groups: ParamGroup[] =
    params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
  return groups.map((g, i) => ({
    params: g.params,
    lr: g.lr ?? lr,
    weightDecay: g.weightDecay ?? weightDecay,
    name: g.name ?? `group${i}`,
  }));
}

export interface OptimizerState {
  kind: string;
  groups: { lr: number; weightDecay: number; name: string }[];
  /** Per parameter (in group order): step count and state buffers as plain arrays. */
  params: { step: number; buffers: Record<string, Float32Array | Float64Array> }[];
}

export abstract class Optimizer {
  readonly groups: ResolvedGroup[];
  constructor(params: Tensor[] | ParamGroup[], lr: number, weightDecay: number) {
    this.groups = resolveGroups(params, lr, weightDecay);
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.dtype !== 'f32' && p.dtype !== 'f64') throw new Error(`optimizer: parameter ${p.describe()} must be f32 or f64`);
      }
    }
  }

  /** Set the learning rate of every group (schedules call this each step). */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }

  get lr(): number {
    return this.groups[0]?.lr ?? 0;
  }

  /** Update every parameter that has a gradient. */
  step(): void {
    for (const [g, p] of this.allParams()) this.stepParam(g, p);
  }

  /** Update one parameter from its current gradient (no-op without one). */
  abstract stepParam(g: { lr: number; weightDecay: number }, p: Tensor): void;

  /**
   * A `backward({ onGradFinal })` callback that updates each parameter of this optimizer as soon as its gradient
   * is final, then frees that gradient: the same update as `step()` after backward, bit for bit, but the
   * gradients of the whole model never exist at once (only those still being accumulated). Use only when
   * nothing needs all gradients first — no global norm clipping, no accumulation over micro-batches.
   */
  stepInBackward(): (leaf: Tensor) => void {
    const groupOf = new Map<Tensor, ResolvedGroup>();
    for (const [g, p] of this.allParams()) groupOf.set(p, g);
    return (leaf) => {
      const g = groupOf.get(leaf);
      if (!g || !leaf.grad) return;
      this.stepParam(g, leaf);
      leaf.grad.dispose();
      leaf.grad = null;
    };
  }

  abstract stateDict(): OptimizerState;
  abstract loadStateDict(s: OptimizerState): void;

  /** Drop gradients (their memory goes back to the pool). */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.grad) {
          p.grad.dispose();
          p.grad = null;
        }
      }
    }
  }

  protected *allParams(): Generator<[ResolvedGroup, Tensor, number]> {
    let i = 0;
    for (const g of this.groups) for (const p of g.params) yield [g, p, i++];
  }
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** torch.optim.AdamW: decoupled weight decay, bias-corrected moments, per-parameter step counts. */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  private state = new Map<Tensor, { step: number; m: Tensor; v: Tensor }>();

  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? 0.01);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
  }

  stepParam(g: { lr: number; weightDecay: number }, p: Tensor): void {
    if (!p.grad) return;
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = { step: 0, m: stateTensor(p), v: stateTensor(p) }));
    s.step++;
    const grad = p.grad.contiguous();
    const be = backendFor(p.buf);
    const adamw = fusedKernels() ? be.adamw.bind(be) : (...a: Parameters<Backend['adamw']>) => adamwUnfused(be, ...a);
    adamw(p.size, p.flatBuf(), grad.flatBuf(), s.m.buf, s.v.buf, g.lr, this.betas[0], this.betas[1], this.eps, g.weightDecay, s.step);
  }

  stateDict(): OptimizerState {
    const params: OptimizerState['params'] = [];
    for (const [, p] of this.allParams()) {
      const s = this.state.get(p);
      params.push(s ? { step: s.step, buffers: { m: s.m.buf.slice(), v: s.v.buf.slice() } } : { step: 0, buffers: {} });
    }
    return { kind: 'adamw', groups: this.groups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay, name: g.name })), params };
  }

  loadStateDict(st: OptimizerState): void {
    if (st.kind !== 'adamw') throw new Error(`AdamW.loadStateDict: state is for ${st.kind}`);
    restoreGroups(this, st);
    for (const [, p, i] of this.allParams()) {
      const e = st.params[i]!;
      if (!e.buffers.m) {
        this.state.delete(p);
        continue;
      }
      const m = stateTensor(p),
        v = stateTensor(p);
      m.buf.set(checkLen(e.buffers.m, p, 'm'));
      v.buf.set(checkLen(e.buffers.v!, p, 'v'));
      this.state.set(p, { step: e.step, m, v });
    }
  }
}

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** torch.optim.SGD: g += wd·p; buf = μ·buf + (1-dampening)·g (buf = g at the first step); p -= lr·(nesterov ? g + μ·buf : buf). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  private state = new Map<Tensor, { step: number; buf: Tensor | null }>();

  constructor(params: Tensor[] | ParamGroup[], opts: SGDOptions = {}) {
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? 0);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  stepParam(g: { lr: number; weightDecay: number }, p: Tensor): void {
    if (!p.grad) return;
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = { step: 0, buf: null }));
    s.step++;
    const w = p.flatBuf();
    const gr = p.grad.contiguous().flatBuf();
    const mu = this.momentum;
    let mb: Float32Array | Float64Array | null = null;
    if (mu !== 0) {
      if (!s.buf) s.buf = stateTensor(p);
      mb = s.buf.buf;
    }
    for (let i = 0; i < w.length; i++) {
      let d = gr[i]! + g.weightDecay * w[i]!;
      if (mb) {
        mb[i] = s.step === 1 ? d : mu * mb[i]! + (1 - this.dampening) * d;
        d = this.nesterov ? d + mu * mb[i]! : mb[i]!;
      }
      w[i] = w[i]! - g.lr * d;
    }
  }

  stateDict(): OptimizerState {
    const params: OptimizerState['params'] = [];
    for (const [, p] of this.allParams()) {
      const s = this.state.get(p);
      params.push({ step: s?.step ?? 0, buffers: s?.buf ? { momentum: s.buf.buf.slice() } : {} });
    }
    return { kind: 'sgd', groups: this.groups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay, name: g.name })), params };
  }

  loadStateDict(st: OptimizerState): void {
    if (st.kind !== 'sgd') throw new Error(`SGD.loadStateDict: state is for ${st.kind}`);
    restoreGroups(this, st);
    for (const [, p, i] of this.allParams()) {
      const e = st.params[i]!;
      let buf: Tensor | null = null;
      if (e.buffers.momentum) {
        buf = stateTensor(p);
        buf.buf.set(checkLen(e.buffers.momentum, p, 'momentum'));
      }
      this.state.set(p, { step: e.step, buf });
    }
  }
}

function restoreGroups(o: Optimizer, st: OptimizerState): void {
  if (st.groups.length !== o.groups.length) {
    throw new Error(`optimizer state has ${st.groups.length} parameter groups, this optimizer ${o.groups.length}`);
  }
  const n = o.groups.reduce((a, g) => a + g.params.length, 0);
  if (st.params.length !== n) throw new Error(`optimizer state has ${st.params.length} parameters, this optimizer ${n}`);
  st.groups.forEach((g, i) => {
    o.groups[i]!.lr = g.lr;
    o.groups[i]!.weightDecay = g.weightDecay;
  });
}

function checkLen(a: ArrayLike<number>, p: Tensor, what: string): ArrayLike<number> {
  if (a.length !== p.size) throw new Error(`optimizer state "${what}" has ${a.length} values for ${p.describe()}`);
  return a;
}

/**
 * The usual split for transformers: weight decay on matrices (2-D and up), none on biases, norms and other
 * vectors. Only trainable parameters are included.
 */
export function decayGroups(model: Module, weightDecay: number): ParamGroup[] {
  const decay: Tensor[] = [],
    noDecay: Tensor[] = [];
  for (const [, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    (p.ndim >= 2 ? decay : noDecay).push(p);
  }
  return [
    { params: decay, weightDecay, name: 'decay' },
    { params: noDecay, weightDecay: 0, name: 'no_decay' },
  ];
}

/**
 * Scale all gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_: factor
 * maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping (NaN/Inf passes through
 * so the trainer can stop the run).
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let sq = 0;
  const withGrad = params.filter((p) => p.grad);
  for (const p of withGrad) {
    const g = p.grad!.contiguous();
    sq += backendFor(g.buf).sumSquares(g.size, g.buf, g.offset);
  }
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (Number.isFinite(norm) && coef < 1) {
    for (const p of withGrad) {
      const g = p.grad!;
      backendFor(g.buf).affine([g.size], { data: g.buf, offset: g.offset, strides: [1] }, coef, 0, g.buf, g.offset);
    }
  }
  return norm;
}
