/**
 * Text generation with a preallocated KV cache: one prefill of the (left-padded) prompts, then one forward of
 * a single position per new token. Only new tokens are returned, never the prompt.
 *
 * Left padding: each row's real tokens are right-aligned; padded key positions are masked out (-Infinity in the
 * additive mask) and positions count from each row's first real token, so every row gets exactly the output it
 * would get alone.
 *
 * Per-token cost outside the kernels is kept small: the model computes logits for the last position only (the
 * prefill too), each step runs in a memory scope so its buffers come back from the pool instead of the GC, plain
 * greedy picks are made inside the LM head's product (CausalLM.greedyTokens) or read the logits in place (no
 * copy, no history) when a callback or constraint wants the logits, and for the length of the loop the native
 * pool's worker keeps spinning between steps and reads the next weight ahead (decode_worker.ts). After the
 * prefill, a model with a step decoder (GPT-2 or the Llama family on the native backend) runs each step as one
 * native call, with the same results (CausalLM.stepDecoder).
 */
import { noGrad } from '../tensor/autograd.js';
import { firstArgmax, tidy } from '../tensor/index.js';
import { createRng } from '../tensor/rng.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { CausalLM } from '../models/common.js';
import type { TokenConstraint } from './constrained.js';
import { withDecodeWorker } from './decode_worker.js';
import { candidateCount, drawFromScores, kthLargest, sampleCandidates, topCandidates, type Candidates } from './select.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Sample instead of taking the most likely token (default false: greedy). */
  doSample?: boolean;
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** > 1 discourages tokens already in the row (prompt and output), as Hugging Face's penalty does. */
  repetitionPenalty?: number;
  seed?: number;
  /** Stop a row when it produces one of these ids (the id is kept in the output). */
  eosTokenId?: number | number[];
  /** Stop a row when its decoded output contains one of these strings (the output is cut before it). */
  stopStrings?: string[];
  /** Needed for stop strings. */
  decode?: (ids: number[]) => string;
  /** Pad id used for finished rows (default: the first EOS id, else 0). */
  padTokenId?: number;
  /** Called after every step with each row's new token (null for rows already finished). */
  onToken?: (step: number, tokens: (number | null)[]) => void;
  /** Called at every step with each row's raw next-token logits (before any processing). */
  onLogits?: (step: number, rows: Float32Array[]) => void;
  /** Restrict each row's choices (e.g. constrained numeric decoding), one constraint object per row. */
  constraints?: TokenConstraint[];
}

export type FinishReason = 'eos' | 'stop_string' | 'length' | 'constraint';

export interface GenerateResult {
  /** New tokens per row (prompt not included). */
  ids: number[][];
  finishReasons: FinishReason[];
  /** Decoded new text per row when `decode` was given. */
  text: (string | null)[];
}

/** What the per-row loop reads when the picks came from the head (fused greedy): nothing. */
const NO_LOGITS = new Float32Array(0);

export function generate(model: CausalLM, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const B = prompts.length;
  if (B === 0) throw new Error('generate: no prompts');
  if (!(opts.maxNewTokens >= 0 && Number.isInteger(opts.maxNewTokens))) {
    throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  }
  for (const [i, p] of prompts.entries()) if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
  if (opts.stopStrings?.length && !opts.decode) throw new Error('generate: stopStrings need a decode function (a tokenizer)');
  if (opts.constraints && opts.constraints.length !== B) {
    throw new Error(`generate: ${opts.constraints.length} constraints for ${B} prompts`);
  }
  const eos = new Set(opts.eosTokenId === undefined ? [] : Array.isArray(opts.eosTokenId) ? opts.eosTokenId : [opts.eosTokenId]);
  const pad = opts.padTokenId ?? (eos.size ? [...eos][0]! : 0);
  const L = Math.max(...prompts.map((p) => p.length));
  const maxLen = L + opts.maxNewTokens;
  const rng = createRng(opts.seed ?? 0, 'sample');
  const wasTraining = model.training;
  model.eval();

  const out: number[][] = prompts.map(() => []);
  const finish: (FinishReason | null)[] = prompts.map(() => null);
  const text: (string | null)[] = prompts.map(() => null);
  try {
    withDecodeWorker(model, () =>
      noGrad(() => {
        const caches = model.makeCaches(B, maxLen);
        // Additive key mask for the whole run: -Infinity on each row's left padding.
        const keyMask = new Float32Array(B * maxLen);
        const nextPos = new Int32Array(B);
        const ids = new Int32Array(B * L);
        const pos = new Int32Array(B * L);
        prompts.forEach((p, b) => {
          const padN = L - p.length;
          for (let t = 0; t < L; t++) {
            ids[b * L + t] = t < padN ? pad : p[t - padN]!;
            pos[b * L + t] = Math.max(0, t - padN);
            if (t < padN) keyMask[b * maxLen + t] = -Infinity;
          }
          nextPos[b] = p.length;
        });
        const padded = prompts.some((p) => p.length !== L);
        const maskView = (S: number): Tensor | null => (padded ? fromArray(keyMask, [B, maxLen]).slice(1, 0, S) : null);
        // Logits [B, 1, V] of the last position; the step's intermediates go back to the pool at its end.
        const forwardStep = (x: Int32Array, T: number, positionIds: Int32Array, S: number): Tensor =>
          tidy(() => model.forward(fromArray(x, [B, T]), { caches, positionIds, attentionMask: maskView(S), logitsToKeep: 1 }));
        // Greedy without a penalty or constraint reads the logits in place (the same pick as pickToken's).
        const plainGreedy = !opts.doSample && (opts.repetitionPenalty ?? 1) === 1;
        // When nothing else looks at the logits, the model picks inside its LM head's product and never writes
        // them (CausalLM.greedyTokens: the same pick, fused into the head's matrix-vector kernel).
        const fusedGreedy = plainGreedy && !opts.onLogits && !opts.constraints && typeof model.greedyTokens === 'function';
        const greedyStep = (x: Int32Array, T: number, positionIds: Int32Array, S: number): Int32Array =>
          tidy(() => model.greedyTokens!(fromArray(x, [B, T]), { caches, positionIds, attentionMask: maskView(S) }));
        // Top-k sampling without a penalty or constraint draws from the row's largest logits alone: the same
        // token as pickToken on the whole row (sampleCandidates says why), without a softmax over the vocabulary.
        const topK = opts.topK ?? 0;
        const candidateSampling = !!opts.doSample && (opts.repetitionPenalty ?? 1) === 1 && !opts.constraints && topK > 0;
        // A one-call step decoder selects them with the step (stepCands, row by row; null for a row with a NaN).
        let stepCands: (Candidates | null)[] | null = null;
        const sampleTopK = (row: ArrayLike<number>, lo: number, n: number, b: number): number | null => {
          if (topK >= n) return null;
          const c = stepCands ? stepCands[b]! : topCandidates(row, lo, n, candidateCount(topK, n));
          return c && sampleCandidates(c, n, topK, opts.temperature ?? 1, opts.topP ?? 1, rng);
        };
        const next = new Int32Array(B);
        const npos = new Int32Array(B);

        // The logits the loop reads: the last forward's tensor (disposed when replaced), or the step decoder's
        // buffer ([B, 1, V]).
        let held = null as Tensor | null;
        let all: Float32Array | Float64Array = NO_LOGITS;
        let V = 0;
        let T = 0;
        const readLogits = (t: Tensor): void => {
          held?.dispose();
          held = t;
          [, T, V] = t.shape as [number, number, number];
          all = t.buf;
        };
        let picks: Int32Array | null = null;
        if (fusedGreedy) picks = greedyStep(ids, L, pos, L);
        else readLogits(forwardStep(ids, L, pos, L));
        let S = L;
        try {
          // After the prefill, one position a step: the model's own decoder when it has one (GPT-2, Llama on the
          // native backend: one native call a token), else forward() / greedyTokens() on one position.
          const stepper = opts.maxNewTokens > 1 ? (model.stepDecoder?.(caches, padded ? keyMask : null) ?? null) : null;
          for (let step = 0; step < opts.maxNewTokens; step++) {
            const chosen: (number | null)[] = [];
            if (!fusedGreedy) {
              opts.onLogits?.(
                step,
                prompts.map((_, b) => Float32Array.from(all.subarray((b * T + T - 1) * V, (b * T + T) * V))),
              );
            }
            for (let b = 0; b < B; b++) {
              if (finish[b]) {
                chosen.push(null);
                continue;
              }
              const lo = (b * T + T - 1) * V;
              const constraint = opts.constraints?.[b];
              const tok = picks
                ? picks[b]!
                : plainGreedy && !constraint
                  ? firstArgmax(all, lo, V)
                  : ((candidateSampling ? sampleTopK(all, lo, V, b) : null) ??
                    pickToken(Float64Array.from(all.subarray(lo, lo + V)), [...prompts[b]!, ...out[b]!], opts, rng, constraint));
              if (tok === null) {
                finish[b] = 'constraint';
                chosen.push(null);
                continue;
              }
              out[b]!.push(tok);
              constraint?.advance(tok);
              chosen.push(tok);
              if (eos.has(tok)) finish[b] = 'eos';
              else if (constraint?.done()) finish[b] = 'constraint';
              else if (opts.stopStrings?.length) {
                const s = opts.decode!(out[b]!);
                const hit = firstStop(s, opts.stopStrings);
                if (hit >= 0) {
                  finish[b] = 'stop_string';
                  text[b] = s.slice(0, hit);
                }
              }
            }
            opts.onToken?.(step, chosen);
            if (finish.every((f) => f) || step === opts.maxNewTokens - 1) break;
            // Next input: each row's new token (finished rows feed padding that nobody reads).
            for (let b = 0; b < B; b++) {
              next[b] = chosen[b] ?? pad;
              npos[b] = Math.min(nextPos[b]!++, maxLen - 1);
            }
            S += 1;
            if (fusedGreedy) picks = stepper ? stepper.greedy(next, npos) : greedyStep(next, 1, npos, S);
            else if (stepper) {
              held?.dispose();
              held = null;
              if (candidateSampling && topK < V && stepper.candidates) {
                const r = stepper.candidates(next, npos, candidateCount(topK, V));
                all = r.logits;
                stepCands = r.rows;
              } else all = stepper.logits(next, npos);
              T = 1;
            } else readLogits(forwardStep(next, 1, npos, S));
          }
        } finally {
          held?.dispose();
          for (const c of caches) c.dispose();
        }
      }),
    );
  } finally {
    model.train(wasTraining);
  }
  return {
    ids: out,
    finishReasons: finish.map((f) => f ?? 'length'),
    text: text.map((t, b) => t ?? (opts.decode ? opts.decode(out[b]!) : null)),
  };
}

function firstStop(s: string, stops: string[]): number {
  let best = -1;
  for (const st of stops) {
    const i = s.indexOf(st);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Apply the logits processors in Hugging Face's order and pick a token; null when the constraint allows none. */
export function pickToken(
  logits: Float64Array,
  history: number[],
  opts: Pick<GenerateOptions, 'doSample' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>,
  rng: { uniform53(): number },
  constraint?: TokenConstraint,
): number | null {
  const V = logits.length;
  const pen = opts.repetitionPenalty ?? 1;
  if (pen !== 1) {
    for (const t of new Set(history)) {
      if (t < 0 || t >= V) continue;
      logits[t] = logits[t]! < 0 ? logits[t]! * pen : logits[t]! / pen;
    }
  }
  if (constraint) {
    const allowed = constraint.allowed();
    let any = false;
    for (let i = 0; i < V; i++) {
      if (!allowed[i]) logits[i] = -Infinity;
      else any = true;
    }
    if (!any) return null;
  }
  if (!opts.doSample) return firstArgmax(logits, 0, logits.length);
  const temp = opts.temperature ?? 1;
  if (!(temp > 0)) throw new Error(`generate: temperature must be > 0 when sampling, got ${temp}`);
  for (let i = 0; i < V; i++) logits[i] = logits[i]! / temp;
  const k = opts.topK ?? 0;
  if (k > 0 && k < V) {
    const kth = kthLargest(logits, k);
    for (let i = 0; i < V; i++) if (logits[i]! < kth) logits[i] = -Infinity;
  }
  const at = drawFromScores(logits, -Infinity, opts.topP ?? 1, rng);
  return at < 0 ? 0 : at;
}
