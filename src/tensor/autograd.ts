/**
 * Eager reverse-mode autograd.
 *
 * Each differentiable op that sees an input requiring a gradient records a Node on its output: the inputs, the
 * tensors it saved for backward, and a backward function mapping the output's gradient to one gradient per input
 * (null where an input needs none; a RegionGrad where it is zero outside one region, as a slice's). Backward
 * functions return fresh tensors or views of the incoming gradient, never forward tensors, so every gradient
 * buffer in flight belongs to the engine and can be freed once used.
 *
 * Memory during backward:
 *  - an intermediate's gradient is released as soon as its node has consumed it;
 *  - a saved activation is released once every node that saved it has run, if it was created inside a tidy()
 *    scope and not kept (outside tidy, saved tensors are simply dropped for the GC);
 *  - leaf gradients accumulate in place into `.grad`, which lives outside any scope.
 */
import type { Storage } from './storage.js';
import type { Tensor } from './tensor.js';

export interface BackwardContext {
  /** Tensors saved by the forward. A backward may remove one (e.g. to reuse its buffer in place). */
  saved: Tensor[];
}

/**
 * A gradient that is zero outside one region of its input (a slice's): `grad` belongs at `region(full)`, a view of
 * a tensor of the input's shape. The engine adds it straight into that region of the input's gradient when it owns
 * that gradient alone, instead of a zero-filled full-size tensor per slice summed with the others (GPT-2's q, k
 * and v are three slices of one projection: three fills and two full-size sums a layer).
 */
export class RegionGrad {
  constructor(
    readonly grad: Tensor,
    readonly region: (full: Tensor) => Tensor,
  ) {}
}

/** What a backward function returns for each input: a gradient, a gradient for a region of it, or none. */
export type InputGrad = Tensor | RegionGrad | null;

export interface Node {
  readonly name: string;
  readonly inputs: readonly (Tensor | null)[];
  ctx: BackwardContext;
  backward: ((grad: Tensor, ctx: BackwardContext) => InputGrad[]) | null;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn with gradient recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attach a node to `out` when any input requires a gradient. Returns `out`.
 * `saved` are the forward tensors the backward reads; they are reference-counted per storage.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: readonly (Tensor | null)[],
  backward: (grad: Tensor, ctx: BackwardContext) => InputGrad[],
  saved: Tensor[] = [],
): Tensor {
  if (!needsGrad(...inputs)) return out;
  for (const s of saved) s.storage.savedRefs++;
  out.node = { name, inputs, ctx: { saved }, backward };
  out.requiresGrad = true;
  return out;
}

// Late-bound helpers from ops.ts (avoids an import cycle at module evaluation).
export interface GradHelpers {
  addOutOfPlace(a: Tensor, b: Tensor): Tensor;
  ones(shape: readonly number[], like: Tensor): Tensor;
  accumulateInto(dst: Tensor, src: Tensor): void;
  zerosUnscoped(like: Tensor): Tensor;
  /** dst += src where dst may be a strided view (a region of a gradient). */
  addIntoView(dst: Tensor, src: Tensor): void;
  /** A zeroed tensor of `like`'s shape and dtype with `src` copied into `region` of it. */
  placeInZeros(like: Tensor, src: Tensor, region: (full: Tensor) => Tensor): Tensor;
}
let helpers: GradHelpers | null = null;
export function installGradHelpers(h: GradHelpers): void {
  helpers = h;
}

export interface BackwardOptions {
  /**
   * Called once for each leaf that requires a gradient, as soon as no node left to run can add to its `.grad`
   * (every node that takes the leaf as an input has run). An optimizer can update that parameter right then and
   * free its gradient (fused AdamW during backward), so all gradients never exist at once. The leaf's value must
   * not be read by the rest of the backward pass: true when every use of a parameter goes through a recorded op
   * (views of a parameter are nodes with the parameter as input, so they count too).
   */
  onGradFinal?: (leaf: Tensor) => void;
}

export function runBackward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  const h = helpers!;
  const userGrad = grad !== undefined;
  if (!root.requiresGrad) {
    throw new Error(`backward(): ${root.describe()} does not require a gradient (no input had requiresGrad)`);
  }
  if (!grad) {
    if (root.size !== 1) {
      throw new Error(`backward(): ${root.describe()} is not a scalar; pass the gradient of the output`);
    }
    grad = h.ones(root.shape, root);
  } else if (grad.dtype !== root.dtype || grad.shape.length !== root.shape.length || grad.shape.some((d, i) => d !== root.shape[i])) {
    throw new Error(`backward(): gradient ${grad.describe()} does not match ${root.describe()}`);
  }

  if (root.node && !root.node.backward) {
    throw new Error(`backward() through a graph that was already used (${root.node.name}); recompute the forward pass`);
  }
  if (!root.node) {
    // A leaf: its gradient is the given one (PyTorch's leaf.backward()).
    if (!root.grad) root.grad = h.zerosUnscoped(root);
    h.accumulateInto(root.grad, grad);
    if (!userGrad) grad.storage.release();
    opts.onGradFinal?.(root);
    return;
  }

  const order = topoOrder(root);
  // For onGradFinal: how many nodes still to run take each leaf as an input.
  const pendingUses = opts.onGradFinal ? countLeafUses(order) : null;
  const grads = new Map<Tensor, Tensor>();
  // How many gradient-map entries point at each storage; a storage with none left can be freed.
  const gradRefs = new Map<Storage, number>();
  // The caller's gradient is theirs, never freed here.
  const protectedStorage = userGrad ? grad.storage : null;
  const ref = (t: Tensor, d: number): void => {
    const n = (gradRefs.get(t.storage) ?? 0) + d;
    if (n <= 0) {
      gradRefs.delete(t.storage);
      if (t.storage !== protectedStorage) t.storage.release();
    } else gradRefs.set(t.storage, n);
  };
  const put = (t: Tensor, g: Tensor): void => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, g);
      ref(g, +1);
      return;
    }
    const sum = h.addOutOfPlace(prev, g);
    grads.set(t, sum);
    ref(sum, +1);
    ref(prev, -1);
    // g was never counted: free it unless it shares memory with a live entry.
    if (!gradRefs.has(g.storage) && g.storage !== protectedStorage) g.storage.release();
  };
  put(root, grad);

  const prevMode = setGradEnabled(false); // backward functions use ops; nothing here is recorded
  try {
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    const g = grads.get(t);
    const node = t.node!;
    if (!g || !node.backward) {
      if (pendingUses) leafUsesDone(node);
      continue;
    }
    grads.delete(t);
    const inGrads = node.backward(g, node.ctx);
    for (let k = 0; k < node.inputs.length; k++) {
      const inp = node.inputs[k];
      const out = inGrads[k];
      if (out instanceof RegionGrad) {
        if (inp && inp.requiresGrad) putRegion(inp, out);
        freeIfUnowned(out.grad);
        continue;
      }
      const ig = out;
      if (!inp || !ig || !inp.requiresGrad) {
        if (ig) freeIfUnowned(ig);
        continue;
      }
      if (ig.shape.length !== inp.shape.length || ig.shape.some((d, j) => d !== inp.shape[j])) {
        throw new Error(
          `internal: backward of ${node.name} gave a gradient ${ig.describe()} for input ${inp.describe()}`,
        );
      }
      deliver(inp, ig);
    }
    ref(g, -1);
    releaseSaved(node);
    node.backward = null; // a graph is used once (PyTorch's retain_graph=False)
    if (pendingUses) leafUsesDone(node);
  }
  } finally {
    setGradEnabled(prevMode);
  }

  function leafUsesDone(node: Node): void {
    for (const inp of new Set(node.inputs)) {
      if (!inp || inp.node || !inp.requiresGrad) continue;
      const n = pendingUses!.get(inp)! - 1;
      pendingUses!.set(inp, n);
      if (n === 0) opts.onGradFinal!(inp);
    }
  }

  // A region's gradient: added in place into the input's gradient when only the map holds that gradient (and it
  // is contiguous, so no element is written twice); otherwise made full-size and accumulated as usual.
  function putRegion(t: Tensor, rg: RegionGrad): void {
    const prev = t.node ? grads.get(t) : undefined;
    if (
      prev &&
      gradRefs.get(prev.storage) === 1 &&
      prev.storage !== protectedStorage &&
      prev.storage !== rg.grad.storage &&
      prev.isContiguous()
    ) {
      h.addIntoView(rg.region(prev), rg.grad);
      return;
    }
    deliver(t, h.placeInZeros(t, rg.grad, rg.region));
  }

  // A full-size gradient for input t: into the map for an intermediate, into `.grad` for a leaf.
  function deliver(t: Tensor, g: Tensor): void {
    if (t.node) put(t, g);
    else {
      accumulateLeaf(t, g);
      freeIfUnowned(g);
    }
  }

  function freeIfUnowned(x: Tensor): void {
    if (!gradRefs.has(x.storage) && x.storage !== protectedStorage) x.storage.release();
  }

  function accumulateLeaf(leaf: Tensor, g: Tensor): void {
    if (!leaf.grad) leaf.grad = h.zerosUnscoped(leaf);
    h.accumulateInto(leaf.grad, g);
  }
}

/** Per leaf (requiring a gradient), the number of nodes in `order` that take it as an input (each node once). */
function countLeafUses(order: readonly Tensor[]): Map<Tensor, number> {
  const uses = new Map<Tensor, number>();
  for (const t of order) {
    for (const inp of new Set(t.node!.inputs)) {
      if (inp && !inp.node && inp.requiresGrad) uses.set(inp, (uses.get(inp) ?? 0) + 1);
    }
  }
  return uses;
}

function releaseSaved(node: Node): void {
  for (const s of node.ctx.saved) {
    const st = s.storage;
    st.savedRefs--;
    if (st.savedRefs <= 0 && st.scope !== null && !st.kept) st.release();
  }
  node.ctx.saved = [];
}

/** Tensors reachable from root through nodes, in topological order (inputs before outputs). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c && c.node && c.requiresGrad && !seen.has(c)) {
        if (!c.node.backward) {
          throw new Error(
            `backward() through a graph that was already used (${c.node.name}); recompute the forward pass`,
          );
        }
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      if (t.node) order.push(t);
    }
  }
  return order;
}

