/**
 * One trainer for every method (from-scratch pre-training, full fine-tuning, adapters): it trains whatever
 * parameters have `requiresGrad`, and knows nothing else about the model than `forward(ids) → logits`.
 *
 * A step: fetch `gradAccum` micro-batches, count their scored labels N, and for each micro-batch run forward
 * and backward of (sum of token losses) / N inside its own memory scope. The accumulated gradient is then
 * exactly the gradient of the mean loss over all N tokens — the same as one big batch, whatever the padding.
 * Then: check loss and gradient norm are finite, clip, update, log, maybe evaluate and checkpoint.
 *
 * Exact resume: everything that influences later steps is in the checkpoint — weights, optimizer moments and
 * step counts, every random stream the model owns (found by walking its modules), the data source's position,
 * and the early-stopping bookkeeping. The learning rate is a pure function of the step. So a run resumed from
 * step k computes bit for bit what the uninterrupted run computed after step k.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Module } from '../nn/module.js';
import { AdamW, clipGradNorm, decayGroups, SGD, type Optimizer } from '../nn/optim.js';
import { noGrad } from '../tensor/autograd.js';
import { backendFor } from '../tensor/backends.js';
import { crossEntropy, tidy } from '../tensor/index.js';
import { withAutocast } from '../tensor/autocast.js';
import { Philox, type RngState } from '../tensor/rng.js';
import { indexArray, type Tensor } from '../tensor/tensor.js';
import { checkpoint } from './checkpoint_op.js';
import { CheckpointStore, type LoadedCheckpoint } from './checkpoints.js';
import { IGNORE_INDEX } from './data.js';
import { Progress, type ProgressMode, type ProgressStream } from './progress.js';
import { makeSchedule, type ScheduleKind } from './schedule.js';
import { TensorBoardWriter } from './tensorboard.js';
import type { Batch, EvalData, Json, TrainableModel, TrainData } from './types.js';

export interface TrainerConfig {
  /** Folder for config.json, metrics.jsonl, checkpoints/ and tb/. Null: train in memory only. */
  runDir?: string | null;
  /** Optimizer updates to run (the total, counting steps done before a resume). */
  maxSteps: number;
  optimizer?: 'adamw' | 'sgd';
  /** Peak learning rate. */
  lr: number;
  schedule?: ScheduleKind;
  warmupSteps?: number;
  minLrRatio?: number;
  /** Decoupled weight decay. AdamW default 0.01, SGD 0. */
  weightDecay?: number;
  /**
   * What decays: 'matrices' (default; biases, norms and other vectors do not, the usual transformer recipe) or
   * 'all' (one group, as a bare torch.optim.AdamW(model.parameters()) does).
   */
  weightDecayScope?: 'matrices' | 'all';
  betas?: [number, number];
  eps?: number;
  momentum?: number;
  /** Micro-batches per optimizer update. */
  gradAccum?: number;
  /** Clip the global gradient norm to this (0 or null: no clipping). Default 1. */
  clipGradNorm?: number | null;
  /** Evaluate every this many updates (0: only at the end). Needs eval data. */
  evalEvery?: number;
  /** Stop when validation loss has not improved by more than minDelta for `patience` evaluations. */
  earlyStopping?: { patience: number; minDelta?: number } | null;
  /** Checkpoint every this many updates (0: only at the end and on a new best). Default: evalEvery. */
  checkpointEvery?: number;
  /** Recent checkpoints kept (plus the best). Default 2. */
  keepLast?: number;
  /** Save a checkpoint whenever validation loss reaches a new best, and keep it. Default true. */
  saveBest?: boolean;
  /** Save only trainable tensors. Default: automatically when some parameters are frozen (adapters). */
  saveTrainableOnly?: boolean;
  /** Recompute each transformer block in backward instead of keeping its activations. */
  gradCheckpoint?: boolean;
  /** Mixed precision. Only null is supported yet; 'bf16' is refused with a clear message. */
  autocast?: 'bf16' | null;
  /** Write TensorBoard event files to <runDir>/tb. */
  tensorboard?: boolean;
  /** Continue from the newest complete checkpoint in runDir (starts fresh when there is none). */
  resume?: boolean;
  progress?: ProgressMode;
  /** Lines mode: a progress line every this many steps. */
  logEvery?: number;
  /**
   * Stop cleanly on SIGINT/SIGTERM: finish the current step, save a checkpoint, return (a second signal
   * exits at once). For command-line use; a library caller usually handles signals itself. Default false.
   */
  handleSignals?: boolean;
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSec: number;
  elapsedSec: number;
  rssMB: number;
  valLoss?: number;
  valPerplexity?: number;
}

export interface EvalResult {
  step: number;
  loss: number;
  perplexity: number;
  tokens: number;
  best: boolean;
}

export interface CheckpointInfo {
  step: number;
  dir: string;
  best: boolean;
}

export interface TrainerCallbacks {
  onStep?(m: StepMetrics, trainer: Trainer): void | Promise<void>;
  onEval?(e: EvalResult, trainer: Trainer): void | Promise<void>;
  onCheckpoint?(c: CheckpointInfo, trainer: Trainer): void | Promise<void>;
  /** Asked before every step; true ends the run cleanly (with a final checkpoint). */
  shouldStop?(trainer: Trainer): boolean;
}

export type StopReason = 'max_steps' | 'early_stopping' | 'callback' | 'signal';

export interface TrainResult {
  step: number;
  stoppedBy: StopReason;
  lastLoss: number;
  bestValLoss: number | null;
  bestStep: number | null;
  finalValLoss: number | null;
  lastCheckpoint: string | null;
  resumedFrom: number | null;
}

/** Thrown when a loss or the gradient norm is NaN or infinite; the weights were not updated with it. */
export class NonFiniteError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

export interface TrainerOptions {
  model: TrainableModel;
  train: TrainData;
  eval?: EvalData | null;
  config: TrainerConfig;
  callbacks?: TrainerCallbacks;
  /** JSON-safe description saved in config.json with the trainer config (model config, data, CLI args). */
  describe?: Record<string, Json>;
  /** Extra random streams to checkpoint (the model's own are found automatically). */
  rngs?: Record<string, Philox>;
  /** Where progress goes (default stderr). */
  stream?: ProgressStream;
}

const STATE_VERSION = 1;

export class Trainer {
  readonly model: TrainableModel;
  readonly config: Required<Omit<TrainerConfig, 'runDir' | 'earlyStopping' | 'clipGradNorm' | 'autocast' | 'saveTrainableOnly'>> &
    Pick<TrainerConfig, 'runDir' | 'earlyStopping' | 'clipGradNorm' | 'autocast' | 'saveTrainableOnly'>;
  readonly optimizer: Optimizer;
  /** Updates done so far. */
  step = 0;
  bestValLoss: number | null = null;
  bestStep: number | null = null;
  private evalsWithoutImprovement = 0;
  private tokensSeen = 0;
  private elapsedBefore = 0;
  private lastCheckpoint: string | null = null;
  private readonly trainable: Tensor[];
  private readonly store: CheckpointStore | null;
  private tb: TensorBoardWriter | null = null;
  private progress!: Progress;
  private undoCheckpointing: (() => void) | null = null;

  constructor(private readonly o: TrainerOptions) {
    const c = o.config;
    this.model = o.model;
    const evalEvery = c.evalEvery ?? 0;
    this.config = {
      optimizer: 'adamw',
      schedule: 'constant',
      warmupSteps: 0,
      minLrRatio: 0,
      weightDecay: c.optimizer === 'sgd' ? 0 : 0.01,
      weightDecayScope: 'matrices',
      betas: [0.9, 0.999],
      eps: 1e-8,
      momentum: 0,
      gradAccum: 1,
      clipGradNorm: 1,
      evalEvery,
      checkpointEvery: evalEvery,
      keepLast: 2,
      saveBest: true,
      gradCheckpoint: false,
      tensorboard: false,
      resume: false,
      progress: 'auto',
      logEvery: 10,
      handleSignals: false,
      earlyStopping: null,
      autocast: null,
      runDir: null,
      ...stripUndefined(c),
    } as Trainer['config'];
    validateConfig(this.config, !!o.eval);
    this.trainable = o.model.parameters().filter((p) => p.requiresGrad);
    if (this.trainable.length === 0) throw new Error('trainer: the model has no trainable parameters (every parameter has requiresGrad false)');
    if (this.config.weightDecayScope !== 'matrices' && this.config.weightDecayScope !== 'all') {
      throw new Error(`trainer: weightDecayScope must be "matrices" or "all", got ${JSON.stringify(this.config.weightDecayScope)}`);
    }
    const groups =
      this.config.weightDecayScope === 'all'
        ? [{ params: this.trainable, weightDecay: this.config.weightDecay, name: 'all' }]
        : decayGroups(o.model, this.config.weightDecay).filter((g) => g.params.length > 0);
    this.optimizer =
      this.config.optimizer === 'sgd'
        ? new SGD(groups, { lr: this.config.lr, momentum: this.config.momentum })
        : new AdamW(groups, { lr: this.config.lr, betas: this.config.betas, eps: this.config.eps });
    this.store = this.config.runDir ? new CheckpointStore(path.join(this.config.runDir, 'checkpoints'), this.config.keepLast) : null;
  }

  /** Trainable parameters, as the optimizer sees them. */
  get trainableParameters(): readonly Tensor[] {
    return this.trainable;
  }

  get saveTrainableOnly(): boolean {
    return this.config.saveTrainableOnly ?? this.trainable.length < this.model.parameters().length;
  }

  /** Every random stream a checkpoint must restore, by a stable name. */
  rngs(): Map<string, { owner: Record<string, unknown>; key: string; rng: Philox }> {
    const out = new Map<string, { owner: Record<string, unknown>; key: string; rng: Philox }>();
    for (const [mname, m] of this.model.namedModules()) {
      for (const [k, v] of Object.entries(m)) {
        if (v instanceof Philox) out.set(mname ? `${mname}.${k}` : k, { owner: m as unknown as Record<string, unknown>, key: k, rng: v });
      }
    }
    for (const [k, r] of Object.entries(this.o.rngs ?? {})) {
      const holder: Record<string, unknown> = { rng: r };
      out.set(`extra.${k}`, { owner: holder, key: 'rng', rng: r });
    }
    return out;
  }

  private log(msg: string): void {
    this.progress.message(msg);
  }

  async train(): Promise<TrainResult> {
    const c = this.config;
    const stream = this.o.stream ?? process.stderr;
    this.progress = new Progress(c.progress, c.maxSteps, stream, c.logEvery);
    let resumedFrom: number | null = null;
    if (c.runDir) {
      fs.mkdirSync(c.runDir, { recursive: true });
      if (c.resume) resumedFrom = this.resume();
      else if (this.store!.list().length > 0) {
        throw new Error(`${c.runDir} already holds checkpoints; pass resume to continue that run, or choose a new run folder`);
      }
      this.writeConfig(resumedFrom);
      this.truncateMetrics(resumedFrom ?? 0);
      if (c.tensorboard) this.tb = new TensorBoardWriter(path.join(c.runDir, 'tb'));
    }
    this.progress = new Progress(c.progress, c.maxSteps, stream, c.logEvery, this.step);
    if (c.gradCheckpoint) this.undoCheckpointing = enableGradCheckpointing(this.model, [...this.rngs().values()].map((r) => r.rng));

    const schedule = makeSchedule({ kind: c.schedule, lr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.maxSteps, minLrRatio: c.minLrRatio });
    const sessionStart = performance.now();
    let stoppedBy: StopReason = 'max_steps';
    let lastLoss = NaN;
    let finalValLoss: number | null = null;
    let signalled: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) process.exit(130); // second signal: the user means it
      signalled = sig;
      this.log(`${sig}: stopping after this step and saving a checkpoint (send it again to exit at once)`);
    };
    if (c.handleSignals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    this.model.train();
    try {
      while (this.step < c.maxSteps) {
        // Signals are delivered between event-loop turns; a step is synchronous, so yield one turn per step.
        if (c.handleSignals) await new Promise((r) => setImmediate(r));
        if (signalled) {
          stoppedBy = 'signal';
          break;
        }
        if (this.o.callbacks?.shouldStop?.(this)) {
          stoppedBy = 'callback';
          break;
        }
        const t0 = performance.now();
        const lr = schedule(this.step);
        this.optimizer.setLr(lr);
        const { loss, tokens } = this.accumulateGradients();
        const stepNo = this.step + 1;
        if (!Number.isFinite(loss)) this.failNonFinite(stepNo, `training loss is ${loss}`);
        const gradNorm = c.clipGradNorm ? clipGradNorm(this.trainable, c.clipGradNorm) : gradNormOf(this.trainable);
        if (!Number.isFinite(gradNorm)) this.failNonFinite(stepNo, `the gradient norm is ${gradNorm} (loss ${loss})`);
        this.optimizer.step();
        this.optimizer.zeroGrad();
        this.step = stepNo;
        this.tokensSeen += tokens;
        lastLoss = loss;
        const dt = (performance.now() - t0) / 1000;
        const m: StepMetrics = {
          step: this.step,
          loss,
          lr,
          gradNorm,
          tokens,
          tokensPerSec: tokens / Math.max(dt, 1e-9),
          elapsedSec: this.elapsedBefore + (performance.now() - sessionStart) / 1000,
          rssMB: Math.round(process.memoryUsage.rss() / 2 ** 20),
        };

        const isLast = this.step === c.maxSteps;
        let improved = false;
        let evalResult: EvalResult | null = null;
        if (this.o.eval && ((c.evalEvery > 0 && this.step % c.evalEvery === 0) || isLast)) {
          const ev = this.evaluate();
          improved = this.bestValLoss === null || ev.loss < this.bestValLoss - (c.earlyStopping?.minDelta ?? 0);
          if (improved) {
            this.bestValLoss = ev.loss;
            this.bestStep = this.step;
            this.evalsWithoutImprovement = 0;
          } else this.evalsWithoutImprovement++;
          m.valLoss = ev.loss;
          m.valPerplexity = ev.perplexity;
          finalValLoss = ev.loss;
          evalResult = { step: this.step, loss: ev.loss, perplexity: ev.perplexity, tokens: ev.tokens, best: improved };
        }
        const earlyStop = !!c.earlyStopping && evalResult !== null && this.evalsWithoutImprovement >= c.earlyStopping.patience;

        // Metrics first, then the checkpoint: on resume, lines after the checkpoint's step are dropped and
        // rewritten, so the log never has a gap or a duplicate.
        this.writeMetrics(m);
        this.progress.update({ step: m.step, loss: m.loss, tokensPerSec: m.tokensPerSec, valLoss: m.valLoss, lr: m.lr });
        if (evalResult) {
          this.log(`step ${this.step}: validation loss ${evalResult.loss.toFixed(4)}, perplexity ${evalResult.perplexity.toFixed(2)}${improved ? ' (best)' : ''}`);
          await this.o.callbacks?.onEval?.(evalResult, this);
        }
        const periodic = c.checkpointEvery > 0 && this.step % c.checkpointEvery === 0;
        if (this.store && (periodic || isLast || earlyStop || (improved && c.saveBest))) {
          m.elapsedSec = this.elapsedBefore + (performance.now() - sessionStart) / 1000;
          await this.saveCheckpoint(m.elapsedSec, improved && c.saveBest);
        }
        await this.o.callbacks?.onStep?.(m, this);
        if (earlyStop) {
          this.log(`early stopping at step ${this.step}: validation loss has not improved for ${c.earlyStopping!.patience} evaluations (best ${this.bestValLoss!.toFixed(4)} at step ${this.bestStep})`);
          stoppedBy = 'early_stopping';
          break;
        }
      }
      if ((stoppedBy === 'callback' || stoppedBy === 'signal') && this.store && this.step > 0 && !this.store.list().some((x) => x.step === this.step)) {
        await this.saveCheckpoint(this.elapsedBefore + (performance.now() - sessionStart) / 1000, false);
      }
      // Resuming a run that had already finished trains nothing; still report where the model stands.
      if (finalValLoss === null && this.o.eval && this.step > 0) finalValLoss = this.evaluate().loss;
    } finally {
      if (c.handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      this.optimizer.zeroGrad();
      this.undoCheckpointing?.();
      this.undoCheckpointing = null;
      this.progress.done();
    }
    return {
      step: this.step,
      stoppedBy,
      lastLoss,
      bestValLoss: this.bestValLoss,
      bestStep: this.bestStep,
      finalValLoss,
      lastCheckpoint: this.lastCheckpoint,
      resumedFrom,
    };
  }

  /**
   * Forward and backward of one update's micro-batches, leaving the summed gradient in each parameter's .grad
   * (public so tests and tools can inspect it); returns the mean loss over scored tokens.
   */
  accumulateGradients(): { loss: number; tokens: number } {
    const micro: Batch[] = [];
    for (let i = 0; i < this.config.gradAccum; i++) micro.push(this.o.train.next());
    let count = 0;
    for (const b of micro) count += scoredCount(b.labels);
    if (count === 0) {
      throw new Error(`step ${this.step + 1}: no label in the ${micro.length} micro-batch(es) is scored (all are ${IGNORE_INDEX}); check the data`);
    }
    let sum = 0;
    let tokens = 0;
    this.optimizer.zeroGrad();
    for (const b of micro) {
      const v = tidy(() => {
        const logits = withAutocast(this.config.autocast ?? null, () =>
          this.model.forward(b.inputIds, { attentionMask: b.attentionMask ?? null, positionIds: b.positionIds }),
        );
        const l = crossEntropy(logits, b.labels, { ignoreIndex: IGNORE_INDEX, reduction: 'sum' });
        const lv = l.item();
        // A non-finite loss has nothing useful to backpropagate; the caller stops the run.
        if (Number.isFinite(lv)) l.mul(1 / count).backward();
        return lv;
      });
      sum += v;
      tokens += b.inputIds.size;
      if (!Number.isFinite(v)) break;
    }
    return { loss: sum / count, tokens };
  }

  /** Mean loss per scored token over the evaluation data, and its perplexity. Dropout off, no graph. */
  evaluate(): { loss: number; perplexity: number; tokens: number } {
    if (!this.o.eval) throw new Error('trainer: no evaluation data');
    const wasTraining = this.model.training;
    this.model.eval();
    let sum = 0;
    let count = 0;
    try {
      noGrad(() => {
        for (const b of this.o.eval!()) {
          sum += tidy(() => {
            const logits = withAutocast(this.config.autocast ?? null, () =>
              this.model.forward(b.inputIds, { attentionMask: b.attentionMask ?? null, positionIds: b.positionIds }),
            );
            return crossEntropy(logits, b.labels, { ignoreIndex: IGNORE_INDEX, reduction: 'sum' }).item();
          });
          count += scoredCount(b.labels);
        }
      });
    } finally {
      this.model.train(wasTraining);
    }
    if (count === 0) throw new Error('evaluation data has no scored labels');
    const loss = sum / count;
    return { loss, perplexity: Math.exp(loss), tokens: count };
  }

  private failNonFinite(step: number, what: string): never {
    this.optimizer.zeroGrad();
    const where = this.lastCheckpoint
      ? `The last good checkpoint (step ${this.step}) is kept at ${this.lastCheckpoint}; resume from it with a lower learning rate or stronger clipping.`
      : this.config.runDir
        ? 'No checkpoint had been saved yet.'
        : 'No run folder, so nothing was saved.';
    const msg = `step ${step}: ${what} — the run stopped without applying this update. ${where}`;
    if (this.config.runDir) {
      fs.appendFileSync(path.join(this.config.runDir, 'metrics.jsonl'), JSON.stringify({ step, event: 'non_finite', message: msg }) + '\n');
    }
    this.log(msg);
    throw new NonFiniteError(msg, step, this.lastCheckpoint);
  }

  // ---- run folder ----------------------------------------------------------------------------------------------

  private writeConfig(resumedFrom: number | null): void {
    const file = path.join(this.config.runDir!, 'config.json');
    const prev = resumedFrom !== null && fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Json> & { resumes?: Json[] }) : null;
    const cfg: Record<string, Json> = {
      trainer: { ...this.config, saveTrainableOnly: this.saveTrainableOnly } as unknown as Json,
      trainableParameters: this.trainable.reduce((a, p) => a + p.size, 0),
      totalParameters: this.model.parameters().reduce((a, p) => a + p.size, 0),
      ...(this.o.describe ?? {}),
      createdAt: (prev as { createdAt?: Json } | null)?.createdAt ?? new Date().toISOString(),
      resumes: [...(prev?.resumes ?? []), ...(resumedFrom !== null ? [{ step: resumedFrom, at: new Date().toISOString() }] : [])],
    };
    if (prev) {
      const changed = configChanges(prev, cfg);
      if (changed.length) this.log(`warning: resuming with different settings (${changed.join('; ')}); the continuation will not match an uninterrupted run`);
    }
    writeFileAtomic(file, JSON.stringify(cfg, null, 2) + '\n');
  }

  /** Keep only complete lines of steps up to `step` (a kill can leave a partial last line). */
  private truncateMetrics(step: number): void {
    const file = path.join(this.config.runDir!, 'metrics.jsonl');
    if (!fs.existsSync(file)) return;
    const kept: string[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { step?: number };
        if (typeof r.step === 'number' && r.step <= step) kept.push(line);
      } catch {
        // A torn line from a killed process: dropped.
      }
    }
    writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
  }

  private writeMetrics(m: StepMetrics): void {
    if (this.config.runDir) fs.appendFileSync(path.join(this.config.runDir, 'metrics.jsonl'), JSON.stringify(m) + '\n');
    if (this.tb) {
      this.tb.scalars(m.step, {
        'train/loss': m.loss,
        'train/lr': m.lr,
        'train/grad_norm': m.gradNorm,
        'train/tokens_per_sec': m.tokensPerSec,
        'train/rss_mb': m.rssMB,
        'val/loss': m.valLoss,
        'val/perplexity': m.valPerplexity,
      });
    }
  }

  /** What a checkpoint holds besides weights and optimizer state. */
  private trainerState(elapsedSec: number): { step: number } & Record<string, Json> {
    const rngs: Record<string, Json> = {};
    for (const [k, r] of this.rngs()) rngs[k] = r.rng.state() as unknown as Json;
    return {
      version: STATE_VERSION,
      step: this.step,
      rngs,
      data: this.o.train.state(),
      tokensSeen: this.tokensSeen,
      elapsedSec,
      bestValLoss: this.bestValLoss,
      bestStep: this.bestStep,
      evalsWithoutImprovement: this.evalsWithoutImprovement,
      trainableOnly: this.saveTrainableOnly,
    };
  }

  private weightsToSave(): Map<string, Tensor> {
    if (!this.saveTrainableOnly) return this.model.stateDict();
    const trainable = new Set(this.trainable);
    return new Map(this.model.namedParameters().filter(([, p]) => trainable.has(p)));
  }

  private async saveCheckpoint(elapsedSec: number, best: boolean): Promise<void> {
    const protect = new Set<number>();
    if (this.bestStep !== null) protect.add(this.bestStep);
    const dir = this.store!.save({ weights: this.weightsToSave(), optimizer: this.optimizer.stateDict(), state: this.trainerState(elapsedSec) }, protect);
    this.lastCheckpoint = dir;
    if (best) writeFileAtomic(path.join(this.config.runDir!, 'best.json'), JSON.stringify({ step: this.step, valLoss: this.bestValLoss, dir }) + '\n');
    await this.o.callbacks?.onCheckpoint?.({ step: this.step, dir, best }, this);
  }

  /** Restore the newest complete checkpoint; returns its step, or null when there is none. */
  private resume(): number | null {
    const removed = this.store!.cleanTemporary();
    if (removed.length) this.log(`removed ${removed.length} unfinished checkpoint write(s): ${removed.join(', ')}`);
    const ck = this.store!.loadLatest((m) => this.log(m));
    if (!ck) {
      this.log(`no checkpoint in ${this.store!.dir}; starting from step 0`);
      return null;
    }
    this.restore(ck);
    this.log(`resumed from ${ck.dir} (step ${ck.step})`);
    return ck.step;
  }

  private restore(ck: LoadedCheckpoint): void {
    const st = ck.state as Record<string, Json>;
    if (st.version !== STATE_VERSION) throw new Error(`${ck.dir}: trainer state version ${String(st.version)} is not ${STATE_VERSION}`);
    const trainableOnly = st.trainableOnly === true;
    const res = this.model.loadStateDict(ck.weights, { strict: !trainableOnly, source: ck.dir });
    if (res.unexpected.length) throw new Error(`${ck.dir}: weights for tensors this model does not have: ${res.unexpected.join(', ')}`);
    this.optimizer.loadStateDict(ck.optimizer);
    const saved = (st.rngs ?? {}) as unknown as Record<string, RngState>;
    for (const [k, r] of this.rngs()) {
      const s = saved[k];
      if (!s) throw new Error(`${ck.dir}: no state for random stream "${k}"`);
      // Same stream: move it in place (closures holding it keep working); otherwise replace it.
      if (s.seed === r.rng.seed.toString() && s.stream === r.rng.stream) r.rng.seek(s.position);
      else r.owner[r.key] = Philox.fromState(s);
    }
    this.o.train.setState(st.data ?? null);
    this.step = ck.step;
    this.tokensSeen = (st.tokensSeen as number) ?? 0;
    this.elapsedBefore = (st.elapsedSec as number) ?? 0;
    this.bestValLoss = (st.bestValLoss as number | null) ?? null;
    this.bestStep = (st.bestStep as number | null) ?? null;
    this.evalsWithoutImprovement = (st.evalsWithoutImprovement as number) ?? 0;
    this.lastCheckpoint = ck.dir;
  }
}

// ---- helpers -------------------------------------------------------------------------------------------------

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateConfig(c: Trainer['config'], hasEval: boolean): void {
  const posInt = (v: number, name: string, min = 1): void => {
    if (!Number.isInteger(v) || v < min) throw new Error(`trainer: ${name} must be an integer >= ${min}, got ${v}`);
  };
  posInt(c.maxSteps, 'maxSteps');
  posInt(c.gradAccum, 'gradAccum');
  posInt(c.evalEvery, 'evalEvery', 0);
  posInt(c.checkpointEvery, 'checkpointEvery', 0);
  posInt(c.logEvery, 'logEvery');
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) throw new Error(`trainer: lr must be a finite number > 0, got ${c.lr}`);
  if (c.clipGradNorm !== null && c.clipGradNorm !== undefined && !(c.clipGradNorm >= 0)) {
    throw new Error(`trainer: clipGradNorm must be >= 0 (0 = off), got ${c.clipGradNorm}`);
  }
  if (c.optimizer !== 'adamw' && c.optimizer !== 'sgd') throw new Error(`trainer: optimizer must be "adamw" or "sgd", got ${JSON.stringify(c.optimizer)}`);
  if (c.autocast && c.autocast !== 'bf16') throw new Error(`trainer: autocast must be "bf16" or null, got ${JSON.stringify(c.autocast)}`);
  if (c.earlyStopping) {
    posInt(c.earlyStopping.patience, 'earlyStopping.patience');
    if (!hasEval) throw new Error('trainer: early stopping needs evaluation data');
  }
  if (c.resume && !c.runDir) throw new Error('trainer: resume needs a runDir');
}

/** Settings that may change on resume without changing what is computed. */
const RESUME_FREE = new Set(['maxSteps', 'resume', 'progress', 'logEvery', 'tensorboard', 'handleSignals', 'keepLast', 'checkpointEvery', 'earlyStopping', 'createdAt', 'resumes']);

/** "key: old → new" for every setting that differs between two config.json contents (nested one level). */
export function configChanges(prev: Record<string, Json>, next: Record<string, Json>): string[] {
  const out: string[] = [];
  const cmp = (a: Record<string, Json>, b: Record<string, Json>, prefix: string): void => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (RESUME_FREE.has(k)) continue;
      const x = a[k],
        y = b[k];
      if (prefix === '' && k === 'trainer' && x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
        cmp(x, y, 'trainer.');
      } else if (JSON.stringify(x) !== JSON.stringify(y)) {
        out.push(`${prefix}${k}: ${JSON.stringify(x) ?? 'unset'} → ${JSON.stringify(y) ?? 'unset'}`);
      }
    }
  };
  cmp(prev, next, '');
  // The length of the run shapes a decaying schedule: more steps stretch the curve already followed.
  const pt = prev.trainer as Record<string, Json> | undefined,
    nt = next.trainer as Record<string, Json> | undefined;
  if (pt && nt && pt.maxSteps !== nt.maxSteps && nt.schedule !== 'constant') {
    out.push(`trainer.maxSteps: ${String(pt.maxSteps)} → ${String(nt.maxSteps)}, which reshapes the ${String(nt.schedule)} schedule`);
  }
  return out;
}

function scoredCount(labels: Tensor): number {
  const a = indexArray(labels, 'labels');
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== IGNORE_INDEX) n++;
  return n;
}

function gradNormOf(params: readonly Tensor[]): number {
  let sq = 0;
  for (const p of params) {
    if (!p.grad) continue;
    const g = p.grad.contiguous();
    sq += backendFor(g.buf).sumSquares(g.size, g.buf, g.offset);
  }
  return Math.sqrt(sq);
}

/**
 * The repeated blocks of a transformer, found by name so any model in Hugging Face's layout works: GPT-2's
 * `transformer.h.N`, Llama's `model.layers.N`, or `blocks.N`.
 */
export function transformerBlocks(model: Module): Module[] {
  return model
    .namedModules()
    .filter(([n, m]) => /(^|\.)(h|layers|blocks)\.\d+$/.test(n) && typeof (m as unknown as { forward?: unknown }).forward === 'function')
    .map(([, m]) => m);
}

/**
 * Route every block's forward through `checkpoint` (its first argument, the hidden states, is the input; the
 * other arguments pass through). Returns a function that restores the original methods.
 */
export function enableGradCheckpointing(model: Module, rngs: Philox[]): () => void {
  const blocks = transformerBlocks(model);
  if (blocks.length === 0) throw new Error('gradCheckpoint: no transformer blocks found (expected modules named h.N, layers.N or blocks.N)');
  for (const block of blocks) {
    const b = block as unknown as { forward: (x: Tensor, ...rest: unknown[]) => Tensor };
    const orig = b.forward;
    const params = block.parameters();
    // Non-enumerable: Module discovers parameters and children through enumerable properties.
    Object.defineProperty(block, 'forward', {
      configurable: true,
      enumerable: false,
      writable: true,
      value: (x: Tensor, ...rest: unknown[]) => checkpoint((xi) => orig.call(block, xi, ...rest), [x], { params, rngs }),
    });
  }
  return () => {
    for (const block of blocks) delete (block as unknown as { forward?: unknown }).forward;
  };
}
