/**
 * The checkpoint folder of a run: `<run>/checkpoints/step-00000120/{model.safetensors, optimizer.safetensors,
 * trainer_state.json}`.
 *
 * Crash safety: a checkpoint is written in full into a dot-named temporary folder next to the others, each file
 * flushed to disk, and the folder is then renamed to its final `step-N` name. A rename is atomic, so a
 * `step-N` folder is always complete; a SIGKILL or power loss mid-write leaves only a `.tmp-*` folder, which
 * resume ignores and removes. Older checkpoints are deleted only after the new one is in place (keep-last-N),
 * and the best checkpoint is never pruned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors, toFloat32, type SafetensorsTensorSource } from '../io/safetensors.js';
import type { OptimizerState } from '../nn/optim.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { Json } from './types.js';

export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'trainer_state.json';

const STEP_DIR = /^step-(\d+)$/;

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

export interface CheckpointData {
  /** Weights by state-dict key (all of the model, or only what was trained). */
  weights: Map<string, Tensor>;
  optimizer: OptimizerState;
  /** Everything else needed to continue: step, RNG states, data position, early-stopping state, … */
  state: { step: number } & Record<string, Json>;
}

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  weights: Map<string, Tensor>;
  optimizer: OptimizerState;
  state: { step: number } & Record<string, Json>;
}

/**
 * A weight as a lazy safetensors source: its bytes are produced when the writer reaches it, one tensor at a
 * time, and a contiguous tensor is written straight from its own memory (no copy of the whole model).
 * Writing is synchronous between steps, so nothing changes the weights while they are being written.
 */
function tensorSource(k: string, t: Tensor): SafetensorsTensorSource {
  const dtype = t.dtype === 'f32' ? 'F32' : t.dtype === 'f64' ? 'F64' : t.dtype === 'bf16' ? 'BF16' : null;
  if (!dtype) throw new Error(`checkpoint: cannot save "${k}" (${t.describe()}): f32, f64 or bf16 tensors only`);
  return {
    dtype,
    shape: [...t.shape],
    load: () => (t.isContiguous() ? t.data.subarray(t.offset, t.offset + t.size) : t.toFlat()) as ArrayBufferView,
  };
}

/** Optimizer state as tensors `p<i>.<buffer>` plus a JSON description (kind, groups, step counts) in metadata. */
function optimizerTensors(o: OptimizerState): { tensors: Map<string, SafetensorsTensorSource>; meta: string } {
  const tensors = new Map<string, SafetensorsTensorSource>();
  const params = o.params.map((p, i) => {
    const names = Object.keys(p.buffers);
    for (const n of names) {
      const b = p.buffers[n]!;
      tensors.set(`p${i}.${n}`, b instanceof Float64Array ? { dtype: 'F64', shape: [b.length], data: b } : { dtype: 'F32', shape: [b.length], data: b });
    }
    return { step: p.step, buffers: names };
  });
  return { tensors, meta: JSON.stringify({ kind: o.kind, groups: o.groups, params }) };
}

function readOptimizer(file: string): OptimizerState {
  const { tensors, metadata } = readSafetensors(file);
  const raw = metadata.optimizer;
  if (!raw) throw new Error(`${file}: no "optimizer" metadata`);
  const desc = JSON.parse(raw) as { kind: string; groups: OptimizerState['groups']; params: { step: number; buffers: string[] }[] };
  return {
    kind: desc.kind,
    groups: desc.groups,
    params: desc.params.map((p, i) => {
      const buffers: Record<string, Float32Array | Float64Array> = {};
      for (const n of p.buffers) {
        const t = tensors.get(`p${i}.${n}`);
        if (!t) throw new Error(`${file}: missing optimizer tensor p${i}.${n}`);
        buffers[n] = t.dtype === 'F64' ? (t.data as Float64Array) : toFloat32(t.data, t.dtype);
      }
      return { step: p.step, buffers };
    }),
  };
}

export class CheckpointStore {
  constructor(
    readonly dir: string,
    /** How many recent checkpoints to keep (the best one is kept in addition). */
    readonly keepLast = 2,
  ) {
    if (!Number.isInteger(keepLast) || keepLast < 1) throw new Error(`keepLast must be an integer >= 1, got ${keepLast}`);
  }

  /** Complete checkpoints, oldest first. */
  list(): { step: number; dir: string }[] {
    if (!fs.existsSync(this.dir)) return [];
    const out: { step: number; dir: string }[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const m = STEP_DIR.exec(name);
      if (m) out.push({ step: Number(m[1]), dir: path.join(this.dir, name) });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** Remove leftovers of interrupted writes (their names start with a dot). */
  cleanTemporary(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    const removed: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (name.startsWith('.tmp-') || name.startsWith('.old-')) {
        fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  save(data: CheckpointData, protect: ReadonlySet<number> = new Set()): string {
    fs.mkdirSync(this.dir, { recursive: true });
    const step = data.state.step;
    const final = path.join(this.dir, stepDirName(step));
    const tmp = path.join(this.dir, `.tmp-${stepDirName(step)}-${process.pid}-${randomBytes(3).toString('hex')}`);
    fs.mkdirSync(tmp);
    try {
      const w = new Map<string, SafetensorsTensorSource>();
      for (const [k, t] of data.weights) w.set(k, tensorSource(k, t));
      writeSafetensors(path.join(tmp, MODEL_FILE), w, { format: 'pt', step: String(step) });
      const o = optimizerTensors(data.optimizer);
      writeSafetensors(path.join(tmp, OPTIMIZER_FILE), o.tensors, { optimizer: o.meta });
      // Written last: its presence inside a step folder is a second sign of completeness.
      writeFileAtomic(path.join(tmp, STATE_FILE), JSON.stringify(data.state, null, 1) + '\n');
      if (fs.existsSync(final)) {
        // Only after an unreadable checkpoint was skipped on resume: move it aside, then replace it.
        const old = path.join(this.dir, `.old-${stepDirName(step)}-${process.pid}`);
        fs.renameSync(final, old);
        fs.renameSync(tmp, final);
        fs.rmSync(old, { recursive: true, force: true });
      } else {
        fs.renameSync(tmp, final);
      }
      fsyncDir(this.dir);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    this.prune(protect);
    return final;
  }

  /** Delete all but the newest keepLast checkpoints, never touching protected steps. */
  prune(protect: ReadonlySet<number>): void {
    const all = this.list();
    const keep = new Set(all.slice(-this.keepLast).map((c) => c.step));
    for (const c of all) {
      if (!keep.has(c.step) && !protect.has(c.step)) fs.rmSync(c.dir, { recursive: true, force: true });
    }
  }

  load(dir: string): LoadedCheckpoint {
    const st = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as LoadedCheckpoint['state'];
    if (!Number.isInteger(st.step)) throw new Error(`${dir}/${STATE_FILE}: no integer "step"`);
    const { tensors } = readSafetensors(path.join(dir, MODEL_FILE));
    const weights = new Map<string, Tensor>();
    for (const [k, t] of tensors) {
      // bf16 weights come back as f32 (exact); loadStateDict converts to each parameter's own dtype.
      const data = t.dtype === 'F64' ? (t.data as Float64Array) : toFloat32(t.data, t.dtype);
      weights.set(k, fromArray(data, t.shape));
    }
    return { dir, step: st.step, weights, optimizer: readOptimizer(path.join(dir, OPTIMIZER_FILE)), state: st };
  }

  /**
   * The newest checkpoint that loads; unreadable ones (a disk error, a hand-edited file) are reported through
   * `warn` and skipped, falling back to the one before.
   */
  loadLatest(warn: (msg: string) => void = () => {}): LoadedCheckpoint | null {
    const all = this.list();
    for (let i = all.length - 1; i >= 0; i--) {
      try {
        return this.load(all[i]!.dir);
      } catch (err) {
        warn(`checkpoint ${all[i]!.dir} is unreadable (${(err as Error).message}); trying the one before`);
      }
    }
    return null;
  }
}

