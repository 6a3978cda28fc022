import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Trainer, NonFiniteError, configChanges, enableGradCheckpointing } from '../../src/train/trainer.js';
import { CheckpointStore } from '../../src/train/checkpoints.js';
import { finishRun } from '../../src/train/finish.js';
import { makeBatch } from '../../src/train/data.js';
import { crossEntropy, pool, tidy } from '../../src/tensor/index.js';
import { fromArray, type Tensor } from '../../src/tensor/tensor.js';
import { Module, param } from '../../src/nn/module.js';
import { Embedding } from '../../src/nn/layers.js';
import { Llama } from '../../src/models/llama.js';
import { loadModel } from '../../src/models/load.js';
import { FIXTURES } from '../helpers/paths.js';
import { ListData, mappingBatch, readMetrics, tinyModel, tmpDir } from './helpers.js';

const quiet = { progress: 'quiet' as const };

describe('gradient accumulation', () => {
  it('k micro-batches give the gradient of one big batch, weighting by scored tokens (not per micro-batch)', () => {
    const B = 4,
      T = 6;
    const big = mappingBatch(B, T, 7, (x) => x + 1);
    const ids = big.inputIds.toFlat() as Int32Array;
    const labels = (big.labels.toFlat() as Int32Array).slice();
    // Uneven masking: the first two rows keep 2 scored labels, the last two keep all 6. A per-micro-batch mean
    // would weight these tokens wrongly.
    for (let r = 0; r < 2; r++) for (let t = 2; t < T; t++) labels[r * T + t] = -100;
    const whole = makeBatch(ids, labels, B, T);
    const half = (k: number) => makeBatch(ids.slice(k * 2 * T, (k + 1) * 2 * T), labels.slice(k * 2 * T, (k + 1) * 2 * T), 2, T);

    const mA = tinyModel(3);
    const tA = new Trainer({ model: mA, train: new ListData(() => [whole]), config: { maxSteps: 1, lr: 1e-3, ...quiet } });
    const rA = tA.accumulateGradients();
    const mB = tinyModel(3);
    const tB = new Trainer({ model: mB, train: new ListData(() => [half(0), half(1)]), config: { maxSteps: 1, lr: 1e-3, gradAccum: 2, ...quiet } });
    const rB = tB.accumulateGradients();

    expect(rB.loss).toBeCloseTo(rA.loss, 6);
    const pa = mA.namedParameters(),
      pb = mB.namedParameters();
    let maxRel = 0;
    pa.forEach(([name, p], i) => {
      const ga = p.grad!.toFloat32Array(),
        gb = pb[i]![1].grad!.toFloat32Array();
      expect(gb.length, name).toBe(ga.length);
      let num = 0,
        den = 0;
      for (let j = 0; j < ga.length; j++) {
        num = Math.max(num, Math.abs(ga[j]! - gb[j]!));
        den = Math.max(den, Math.abs(ga[j]!));
      }
      maxRel = Math.max(maxRel, num / (den || 1));
    });
    expect(maxRel).toBeLessThan(1e-5);
  });
});

describe('gradient checkpointing', () => {
  it('gives bitwise identical loss, gradients and dropout draws (with dropout on)', () => {
    const batch = mappingBatch(2, 8, 11, (x) => 3 * x + 1);
    const grads = (ckpt: boolean) => {
      const m = tinyModel(5, { residDropout: 0.2, embdDropout: 0.1 });
      m.train();
      const undo = ckpt ? enableGradCheckpointing(m, [m.dropoutRng]) : null;
      const loss = crossEntropy(m.forward(batch.inputIds), batch.labels);
      loss.backward();
      undo?.();
      return { loss: loss.item(), pos: m.dropoutRng.position, g: m.namedParameters().map(([n, p]) => [n, p.grad!.toFloat32Array()] as const) };
    };
    const a = grads(false),
      b = grads(true);
    expect(b.loss).toBe(a.loss);
    expect(b.pos).toBe(a.pos);
    a.g.forEach(([n, ga], i) => expect(Buffer.from(b.g[i]![1].buffer).equals(Buffer.from(ga.buffer)), n).toBe(true));
  });

  it('keeps fewer activations alive: the forward pass allocates far fewer new buffers', () => {
    // Without checkpointing every intermediate of every block stays alive until backward, so each one is a new
    // allocation. With it, a block's intermediates go back to the pool when the block returns and the next
    // block reuses them: new allocations stop growing with depth.
    const batch = mappingBatch(2, 8, 11, (x) => x + 1);
    const fresh = (ckpt: boolean, nLayer: number) => {
      const m = tinyModel(5, { nLayer });
      const undo = ckpt ? enableGradCheckpointing(m, [m.dropoutRng]) : null;
      pool.clear();
      const before = pool.misses;
      const n = tidy(() => {
        const loss = crossEntropy(m.forward(batch.inputIds), batch.labels);
        const allocated = pool.misses - before;
        loss.backward();
        return allocated;
      });
      undo?.();
      return n;
    };
    const plain4 = fresh(false, 4),
      plain8 = fresh(false, 8);
    const ckpt4 = fresh(true, 4),
      ckpt8 = fresh(true, 8);
    expect(plain8 - plain4).toBeGreaterThan(40); // grows with depth
    expect(ckpt8 - ckpt4).toBeLessThanOrEqual(4); // one output per extra block
    expect(ckpt8).toBeLessThan(plain8 / 3);
  });

  it('works when the blocks\' inputs need no gradient (frozen embeddings, trainable block weights)', () => {
    const batch = mappingBatch(2, 8, 12, (x) => x + 2);
    const grads = (ckpt: boolean) => {
      const m = tinyModel(5);
      for (const [n, p] of m.namedParameters()) if (!n.includes('h.1.')) p.requiresGrad = false;
      const undo = ckpt ? enableGradCheckpointing(m, []) : null;
      crossEntropy(m.forward(batch.inputIds), batch.labels).backward();
      undo?.();
      return m.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => [n, Buffer.from(p.grad!.toFloat32Array().buffer)] as const);
    };
    const a = grads(false),
      b = grads(true);
    expect(a.length).toBeGreaterThan(0);
    a.forEach(([n, g], i) => expect(b[i]![1].equals(g), n).toBe(true));
  });

  it('trains to the same losses through the Trainer option', async () => {
    const losses = async (gradCheckpoint: boolean) => {
      const out: number[] = [];
      const t = new Trainer({
        model: tinyModel(2, { residDropout: 0.1 }),
        train: new ListData(() => [mappingBatch(2, 8, 1, (x) => x + 5)]),
        config: { maxSteps: 4, lr: 1e-2, gradCheckpoint, ...quiet },
        callbacks: { onStep: (m) => void out.push(m.loss) },
      });
      await t.train();
      return out;
    };
    expect(await losses(true)).toEqual(await losses(false));
  });
});

describe('evaluation, early stopping and the best checkpoint', () => {
  it('stops after `patience` evaluations without improvement and keeps the best checkpoint', async () => {
    const dir = tmpDir('early');
    // minDelta larger than any possible change: only the first evaluation counts as an improvement, so the
    // patience logic is tested independently of how the losses happen to move.
    const evalBatch = mappingBatch(4, 8, 99, (x) => x + 2);
    const evals: number[] = [];
    const t = new Trainer({
      model: tinyModel(4),
      train: new ListData(() => [mappingBatch(4, 8, 1, (x) => x + 1)]),
      eval: () => [evalBatch],
      config: { runDir: dir, maxSteps: 50, lr: 3e-2, evalEvery: 2, checkpointEvery: 2, keepLast: 1, earlyStopping: { patience: 2, minDelta: 100 }, ...quiet },
      callbacks: { onEval: (e) => void evals.push(e.loss) },
    });
    const r = await t.train();
    expect(r.stoppedBy).toBe('early_stopping');
    expect(r.bestStep).toBe(2);
    expect(r.step).toBe(6);
    expect(evals).toHaveLength(3);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'best.json'), 'utf8')).step).toBe(2);
    // keepLast 1 keeps the newest; the best is protected from pruning.
    expect(new CheckpointStore(path.join(dir, 'checkpoints')).list().map((c) => c.step)).toEqual([2, 6]);
    const m = readMetrics(dir);
    expect(m.filter((x) => x.valLoss !== undefined).map((x) => x.step)).toEqual([2, 4, 6]);
    expect(m[1]!.valPerplexity).toBeCloseTo(Math.exp(m[1]!.valLoss!), 10);
    for (const k of ['step', 'loss', 'lr', 'gradNorm', 'tokensPerSec', 'elapsedSec', 'rssMB']) expect(m[0]).toHaveProperty(k);
  });
});

describe('exporting the best weights', () => {
  it('finishRun loads the best checkpoint into the model before exporting it, and writes summary.json', async () => {
    const dir = tmpDir('finish');
    const model = tinyModel(4);
    const t = new Trainer({
      model,
      train: new ListData(() => [mappingBatch(4, 8, 1, (x) => x + 1)]),
      eval: () => [mappingBatch(4, 8, 99, (x) => x + 2)],
      config: { runDir: dir, maxSteps: 50, lr: 3e-2, evalEvery: 2, earlyStopping: { patience: 2, minDelta: 100 }, ...quiet },
    });
    let exported: Map<string, Float32Array> | null = null;
    let printed = '';
    const r = await finishRun(t, dir, 'best', (m) => void (exported = new Map([...m.stateDict()].map(([k, v]) => [k, v.toFloat32Array()]))), (s) => void (printed += s));
    expect(r.bestStep).toBe(2);
    const best = new CheckpointStore(path.join(dir, 'checkpoints')).load(path.join(dir, 'checkpoints', 'step-00000002'));
    for (const [k, w] of best.weights) expect(Buffer.from(exported!.get(k)!.buffer).equals(Buffer.from(w.toFloat32Array().buffer)), k).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ steps: 6, stoppedBy: 'early_stopping', exported: 'best', exportedStep: 2, bestStep: 2 });
    expect(printed).toMatch(/trained 6 steps \(early stopping\)\nheld-out loss .*\nbest held-out loss .* at step 2/);
  });
});

describe('non-finite loss', () => {
  it('stops with a clear message, does not apply the update, and keeps the last good checkpoint', async () => {
    const dir = tmpDir('nan');
    const model = tinyModel(6);
    const t = new Trainer({
      model,
      train: new ListData(() => [mappingBatch(2, 8, 3, (x) => x + 1)]),
      config: { runDir: dir, maxSteps: 20, lr: 1e-2, checkpointEvery: 5, ...quiet },
      callbacks: {
        // Poison a weight after step 5's checkpoint: step 6's loss is NaN.
        onStep: (m) => {
          if (m.step === 5) (model.transformer.ln_f.weight.data as Float32Array)[0] = NaN;
        },
      },
    });
    let err: unknown;
    await t.train().catch((e) => (err = e));
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/step 6: training loss is NaN/);
    expect((err as Error).message).toContain(path.join(dir, 'checkpoints', 'step-00000005'));
    const store = new CheckpointStore(path.join(dir, 'checkpoints'));
    expect(store.list().map((c) => c.step)).toEqual([5]);
    const ck = store.loadLatest()!;
    for (const [k, w] of ck.weights) expect(w.toFloat32Array().every(Number.isFinite), k).toBe(true);
    const lines = readMetrics(dir);
    expect(lines.at(-1)).toMatchObject({ step: 6, event: 'non_finite' });
  });

  it('stops on a non-finite gradient with a finite loss', async () => {
    // logits = embedding + sqrt(p) with p = 0: the forward is finite, d sqrt(p)/dp = 1/(2·0) is not.
    class SqrtModel extends Module {
      emb = new Embedding(32, 32);
      p = param([1], { init: new Float32Array([1]) });
      forward(ids: Tensor | null): Tensor {
        return this.emb.forward(ids!).add(this.p.sqrt());
      }
    }
    const model = new SqrtModel();
    const t = new Trainer({
      model,
      train: new ListData(() => [mappingBatch(2, 8, 3, (x) => x + 1)]),
      config: { maxSteps: 5, optimizer: 'sgd', lr: 1e-2, clipGradNorm: 0, weightDecay: 0, ...quiet },
      callbacks: { onStep: (m) => void (m.step === 2 && (model.p.data as Float32Array).fill(0)) },
    });
    await expect(t.train()).rejects.toThrow(/step 3: the gradient norm is (Infinity|NaN) \(loss \d/);
  });
});

describe('checkpoints', () => {
  it('resume ignores and removes a partial temporary checkpoint and skips an incomplete step folder', async () => {
    const dir = tmpDir('atomic');
    const data = () => new ListData(() => [mappingBatch(2, 8, 1, (x) => x + 1), mappingBatch(2, 8, 2, (x) => x + 1)]);
    const cfg = { runDir: dir, lr: 1e-2, checkpointEvery: 2, keepLast: 3, ...quiet };
    const ref: number[] = [];
    await new Trainer({ model: tinyModel(8), train: data(), config: { ...cfg, runDir: tmpDir('atomic-ref'), maxSteps: 8 }, callbacks: { onStep: (m) => void ref.push(m.loss) } }).train();

    await new Trainer({ model: tinyModel(8), train: data(), config: { ...cfg, maxSteps: 4 } }).train();
    const ckDir = path.join(dir, 'checkpoints');
    // A kill during a checkpoint write leaves a dot-named folder with a half-written file.
    const tmp = path.join(ckDir, '.tmp-step-00000006-999-abcdef');
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'model.safetensors'), Buffer.from([1, 2, 3]));
    // And a step folder that is not a complete checkpoint (never produced by the trainer, but a copy gone wrong
    // could): it must be skipped in favour of the previous one.
    fs.mkdirSync(path.join(ckDir, 'step-00000005'));
    fs.writeFileSync(path.join(ckDir, 'step-00000005', 'model.safetensors'), 'garbage');

    const messages: string[] = [];
    const after: number[] = [];
    const r = await new Trainer({
      model: tinyModel(123), // different init: the weights must come from the checkpoint
      train: data(),
      config: { ...cfg, maxSteps: 8, resume: true, progress: 'lines' },
      stream: { write: (s: string) => messages.push(s) },
      callbacks: { onStep: (m) => void after.push(m.loss) },
    }).train();
    expect(r.resumedFrom).toBe(4);
    expect(fs.existsSync(tmp)).toBe(false);
    expect(messages.join('')).toMatch(/removed 1 unfinished checkpoint write/);
    expect(messages.join('')).toMatch(/step-00000005 is unreadable/);
    expect(after).toEqual(ref.slice(4));
    expect(readMetrics(dir).map((m) => m.loss)).toEqual(ref);
  });

  it('refuses to start over a run folder that has checkpoints unless resuming', async () => {
    const dir = tmpDir('exists');
    const mk = () => new Trainer({ model: tinyModel(1), train: new ListData(() => [mappingBatch(2, 4, 1, (x) => x)]), config: { runDir: dir, maxSteps: 1, lr: 1e-3, ...quiet } });
    await mk().train();
    await expect(mk().train()).rejects.toThrow(/already holds checkpoints; pass resume/);
  });

  it('saves only trainable tensors when part of the model is frozen, and resumes exactly from them', async () => {
    const frozenModel = () => {
      const m = tinyModel(9);
      for (const [n, p] of m.namedParameters()) if (!n.includes('ln_f') && !n.includes('h.1.mlp')) p.requiresGrad = false;
      return m;
    };
    const data = () => new ListData(() => [mappingBatch(2, 4, 1, (x) => x + 1), mappingBatch(2, 4, 2, (x) => x + 2)]);
    const ref: number[] = [];
    await new Trainer({ model: frozenModel(), train: data(), config: { maxSteps: 6, lr: 1e-2, ...quiet }, callbacks: { onStep: (m) => void ref.push(m.loss) } }).train();

    const dir = tmpDir('frozen');
    await new Trainer({ model: frozenModel(), train: data(), config: { runDir: dir, maxSteps: 3, lr: 1e-2, ...quiet } }).train();
    const ck = new CheckpointStore(path.join(dir, 'checkpoints')).loadLatest()!;
    expect([...ck.weights.keys()].sort()).toEqual([
      'transformer.h.1.mlp.c_fc.bias',
      'transformer.h.1.mlp.c_fc.weight',
      'transformer.h.1.mlp.c_proj.bias',
      'transformer.h.1.mlp.c_proj.weight',
      'transformer.ln_f.bias',
      'transformer.ln_f.weight',
    ]);
    expect(ck.state.trainableOnly).toBe(true);
    // The frozen base is rebuilt the same way (here: the same seed); the checkpoint supplies the rest.
    const after: number[] = [];
    await new Trainer({ model: frozenModel(), train: data(), config: { runDir: dir, maxSteps: 6, lr: 1e-2, resume: true, ...quiet }, callbacks: { onStep: (m) => void after.push(m.loss) } }).train();
    expect(after).toEqual(ref.slice(3));
  });

  it('takes bf16 autocast and refuses other autocast types with a clear message', () => {
    expect(() => new Trainer({ model: tinyModel(1), train: new ListData(() => []), config: { maxSteps: 1, lr: 1, autocast: 'bf16' } })).not.toThrow();
    expect(() => new Trainer({ model: tinyModel(1), train: new ListData(() => []), config: { maxSteps: 1, lr: 1, autocast: 'fp16' as never } })).toThrow(/autocast must be "bf16" or null, got "fp16"/);
  });
});

describe('progress output', () => {
  it('plain lines when not a terminal, nothing when quiet', async () => {
    const run = async (progress: 'auto' | 'quiet') => {
      const out: string[] = [];
      await new Trainer({
        model: tinyModel(1),
        train: new ListData(() => [mappingBatch(2, 4, 1, (x) => x)]),
        config: { maxSteps: 4, lr: 1e-3, progress, logEvery: 2 },
        stream: { isTTY: false, write: (s: string) => out.push(s) },
      }).train();
      return out.join('');
    };
    const lines = await run('auto');
    expect(lines).not.toContain('\r');
    expect(lines.trim().split('\n')).toHaveLength(2);
    expect(lines).toMatch(/^step 2\/4 {2}loss \d+\.\d{4} {2}lr .* tok\/s {2}ETA \d\d:\d\d$/m);
    expect(await run('quiet')).toBe('');
  });
  it('a redrawn bar on a terminal', async () => {
    const out: string[] = [];
    await new Trainer({
      model: tinyModel(1),
      train: new ListData(() => [mappingBatch(2, 4, 1, (x) => x)]),
      config: { maxSteps: 3, lr: 1e-3, progress: 'auto' },
      stream: { isTTY: true, columns: 120, write: (s: string) => out.push(s) },
    }).train();
    expect(out.join('')).toMatch(/\r\x1b\[2K\[#+\] step 3\/3/);
  });
});

describe('batches', () => {
  it('rejects a batch with nothing to score', () => {
    const ids = new Int32Array(8);
    const t = new Trainer({ model: tinyModel(1), train: new ListData(() => [makeBatch(ids, new Int32Array(8).fill(-100), 2, 4)]), config: { maxSteps: 1, lr: 1, ...quiet } });
    expect(() => t.accumulateGradients()).toThrow(/no label .* is scored/);
    expect(fromArray(ids, [2, 4]).shape).toEqual([2, 4]);
  });
});

describe('other architectures', () => {
  it('Llama: gradient checkpointing finds model.layers.N and gives identical gradients; the trainer runs it', async () => {
    const make = () => {
      const m = new Llama({ vocabSize: 32, hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 2, numKvHeads: 1, maxPositions: 16 });
      m.initWeights(3);
      return m;
    };
    const batch = mappingBatch(2, 8, 4, (x) => x + 3);
    const grads = (ckpt: boolean) => {
      const m = make();
      const undo = ckpt ? enableGradCheckpointing(m, []) : null;
      crossEntropy(m.forward(batch.inputIds), batch.labels).backward();
      undo?.();
      return m.namedParameters().map(([, p]) => Buffer.from(p.grad!.toFloat32Array().buffer));
    };
    const a = grads(false),
      b = grads(true);
    a.forEach((g, i) => expect(b[i]!.equals(g)).toBe(true));
    const r = await new Trainer({ model: make(), train: new ListData(() => [batch]), config: { maxSteps: 3, lr: 1e-2, gradCheckpoint: true, ...quiet } }).train();
    expect(r.step).toBe(3);
    expect(r.lastLoss).toBeLessThan(Math.log(32));
  });
});

describe('resume settings check', () => {
  it('lists settings that change the computation, and ignores those that do not', () => {
    const prev = { trainer: { lr: 1, maxSteps: 10, schedule: 'cosine', progress: 'auto' }, seqLen: 32, createdAt: 'a' };
    expect(configChanges(prev, { trainer: { lr: 1, maxSteps: 10, schedule: 'cosine', progress: 'quiet' }, seqLen: 32, createdAt: 'b' })).toEqual([]);
    expect(configChanges(prev, { trainer: { lr: 2, maxSteps: 20, schedule: 'cosine', progress: 'auto' }, seqLen: 64, createdAt: 'a' })).toEqual([
      'trainer.lr: 1 → 2',
      'seqLen: 32 → 64',
      'trainer.maxSteps: 10 → 20, which reshapes the cosine schedule',
    ]);
    expect(configChanges({ trainer: { maxSteps: 10, schedule: 'constant' } }, { trainer: { maxSteps: 20, schedule: 'constant' } })).toEqual([]);
  });
});

describe('a frozen bf16 base', () => {
  it('trains the f32 parameters over bf16 matrices and checkpoints only what trains', async () => {
    const load = () => {
      const m = loadModel(path.join(FIXTURES, 'gpt2-tiny'), { dtype: 'bf16' });
      for (const p of m.parameters()) if (p.dtype === 'bf16') p.requiresGrad = false;
      return m;
    };
    const dir = tmpDir('bf16');
    const data = () => new ListData(() => [mappingBatch(2, 8, 1, (x) => x + 1, 512)]);
    const ref: number[] = [];
    await new Trainer({ model: load(), train: data(), config: { maxSteps: 4, lr: 1e-2, ...quiet }, callbacks: { onStep: (m) => void ref.push(m.loss) } }).train();
    await new Trainer({ model: load(), train: data(), config: { runDir: dir, maxSteps: 2, lr: 1e-2, ...quiet } }).train();
    const ck = new CheckpointStore(path.join(dir, 'checkpoints')).loadLatest()!;
    expect([...ck.weights.keys()].every((k) => /(bias|ln_\d\.weight|ln_f\.weight)$/.test(k))).toBe(true);
    const after: number[] = [];
    await new Trainer({ model: load(), train: data(), config: { runDir: dir, maxSteps: 4, lr: 1e-2, resume: true, ...quiet }, callbacks: { onStep: (m) => void after.push(m.loss) } }).train();
    expect(after).toEqual(ref.slice(2));
  });
});
