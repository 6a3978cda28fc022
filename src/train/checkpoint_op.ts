/**
 * Gradient checkpointing as one generic autograd op: `checkpoint(fn, inputs, opts)` runs `fn` without recording
 * a graph (so none of its intermediate activations stay alive), and in backward runs it again with recording on
 * and backpropagates through that fresh graph. Memory drops from "every activation of every block" to "the
 * inputs of every block plus one block's activations", for about one extra forward pass of compute.
 *
 * What makes the recomputation identical to the first pass:
 *  - random streams used inside fn (dropout) are rewound to where they were before the first pass, replayed, and
 *    then put back where the first pass left them, so the masks are the same and later draws are unaffected;
 *  - fn must otherwise be a pure function of its inputs and the parameters.
 *
 * Gradients reach the parameters used inside fn because the inner backward accumulates into every leaf's .grad
 * directly. Pass those parameters as `params` so the op records a node even when no input needs a gradient
 * (e.g. frozen embeddings below a trainable adapter). Tensors fn closes over must be leaves or need no gradient:
 * a non-leaf would have its graph consumed by the first block's inner backward.
 */
import { autocastMode, withAutocast } from '../tensor/autocast.js';
import { isGradEnabled, noGrad, record, runBackward, setGradEnabled } from '../tensor/autograd.js';
import type { Philox } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/index.js';

export interface CheckpointOptions {
  /** Parameters used by fn (trainable or not); only used to decide whether a gradient is needed. */
  params?: readonly Tensor[];
  /** Random streams fn draws from; rewound for the recomputation. */
  rngs?: readonly Philox[];
}

export function checkpoint(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: CheckpointOptions = {}): Tensor {
  const params = opts.params ?? [];
  const rngs = opts.rngs ?? [];
  const needs = isGradEnabled() && (inputs.some((t) => t.requiresGrad) || params.some((p) => p.requiresGrad));
  if (!needs) return fn(...inputs);

  const before = rngs.map((r) => r.position);
  // The recomputation must see the same autocast mode as this forward (backward runs outside the forward's).
  const cast = autocastMode();
  // Own scope: the block's intermediates are released as soon as it returns; only its output survives.
  const out = tidy(() => noGrad(() => fn(...inputs.map((t) => t.detach()))));
  const after = rngs.map((r) => r.position);

  // The params are listed as inputs only so `record` sees that something needs a gradient; their gradients
  // are accumulated by the inner backward, so the node returns null for them.
  const allInputs: Tensor[] = [...inputs, ...params];
  return record(
    out,
    'checkpoint',
    allInputs,
    (g) => {
      const grads = tidy(() => {
        const detached = inputs.map((t) => {
          const d = t.detach();
          if (t.requiresGrad) d.requiresGrad = true;
          return d;
        });
        // Backward runs blocks in reverse, so the streams are wherever the whole forward left them: put them back
        // there (not at this block's end) after replaying this block's draws.
        const now = rngs.map((r) => r.position);
        rngs.forEach((r, i) => r.seek(before[i]!));
        const prev = setGradEnabled(true);
        let y: Tensor;
        let replayed: number[];
        try {
          y = withAutocast(cast, () => fn(...detached));
        } finally {
          replayed = rngs.map((r) => r.position);
          setGradEnabled(prev);
          rngs.forEach((r, i) => r.seek(now[i]!));
        }
        // Different draw counts mean fn is not a pure function of its inputs: its gradients would be wrong.
        if (replayed.some((p, i) => p !== after[i])) {
          throw new Error('checkpoint: recomputing the function drew a different amount of randomness than its first run; it must be deterministic');
        }
        if (y.requiresGrad) runBackward(y, g);
        // The detached inputs are leaves of the inner graph: their .grad (memory outside any scope) is the
        // gradient of each input; inputs that needed none get none.
        return detached.map((d, i) => (inputs[i]!.requiresGrad ? d.grad : null));
      });
      return [...grads, ...params.map(() => null)];
    },
    // Saved so backward() keeps the inputs alive (inside a tidy scope) until this node has run.
    inputs,
  );
}
