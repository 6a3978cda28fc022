/**
 * What `fintune pretrain` and `fintune finetune` share: the training options on the command line and their
 * translation to a TrainerConfig, text → token ids, and the end-of-run report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadTokenizer } from '../io/tokenizer.js';
import { isScheduleKind } from './schedule.js';
import type { TrainerConfig, TrainResult } from './trainer.js';

/** Options both commands accept, as commander parses them (strings unless a parser is given). */
export interface TrainingCliOptions {
  out: string;
  steps: number;
  batchSize: number;
  seqLen?: number;
  gradAccum: number;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  schedule: string;
  warmup: number;
  minLrRatio: number;
  weightDecay?: number;
  momentum: number;
  clip: number;
  evalEvery: number;
  evalBatches: number;
  earlyStop?: number;
  checkpointEvery?: number;
  keepLast: number;
  valFraction: number;
  valData?: string;
  seed: number;
  gradCheckpoint?: boolean;
  autocast?: string;
  tensorboard?: boolean;
  resume?: boolean;
  quiet?: boolean;
  logEvery: number;
  tokenizer?: string;
}

function num(what: string, integer: boolean, min: number): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (!Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < min) {
      throw new Error(`${what} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${v}"`);
    }
    return x;
  };
}

export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--out <dir>', 'run folder (config.json, metrics.jsonl, checkpoints/, final/)')
    .option('--tokenizer <dir>', 'tokenizer folder (tokenizer.json); default: byte-level ids 0-255')
    .option('--val-data <file>', 'held-out data (default: the last --val-fraction of the training data)')
    .option('--val-fraction <x>', 'fraction of the data held out when no --val-data', num('--val-fraction', false, 0), 0.1)
    .option('--steps <n>', 'optimizer updates', num('--steps', true, 1), 1000)
    .option('--batch-size <n>', 'sequences per micro-batch', num('--batch-size', true, 1), 8)
    .option('--seq-len <n>', 'tokens per sequence (default: the model context, at most 256)', num('--seq-len', true, 2))
    .option('--grad-accum <n>', 'micro-batches per update', num('--grad-accum', true, 1), 1)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'sgd']).default('adamw'))
    .option('--lr <x>', 'peak learning rate', num('--lr', false, 0), 3e-4)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule').choices(['constant', 'linear', 'cosine']).default('cosine'))
    .option('--warmup <n>', 'warm-up updates', num('--warmup', true, 0), 0)
    .option('--min-lr-ratio <x>', 'final learning rate as a fraction of --lr', num('--min-lr-ratio', false, 0), 0.1)
    .option('--weight-decay <x>', 'decoupled weight decay on matrices (AdamW default 0.01, SGD 0)', num('--weight-decay', false, 0))
    .option('--momentum <x>', 'SGD momentum', num('--momentum', false, 0), 0)
    .option('--clip <x>', 'clip the global gradient norm (0 = off)', num('--clip', false, 0), 1)
    .option('--eval-every <n>', 'evaluate every n updates (0 = only at the end)', num('--eval-every', true, 0), 100)
    .option('--eval-batches <n>', 'at most this many held-out batches per evaluation', num('--eval-batches', true, 1), 50)
    .option('--early-stop <patience>', 'stop after this many evaluations without improvement', num('--early-stop', true, 1))
    .option('--checkpoint-every <n>', 'checkpoint every n updates (default: --eval-every)', num('--checkpoint-every', true, 0))
    .option('--keep-last <n>', 'recent checkpoints kept (the best is kept too)', num('--keep-last', true, 1), 2)
    .option('--seed <n>', 'seed for initialization, data order and dropout', num('--seed', true, 0), 0)
    .option('--grad-checkpoint', 'recompute each block in backward: less memory for one extra forward pass')
    .option('--autocast <dtype>', 'bf16: linear layers compute with bf16 operands and f32 accumulation (numerics of bf16 training)')
    .option('--tensorboard', 'also write TensorBoard event files to <out>/tb')
    .option('--resume', 'continue the run in --out from its newest checkpoint')
    .option('--quiet', 'no progress output')
    .option('--log-every <n>', 'progress line every n updates when not on a terminal', num('--log-every', true, 1), 10);
}

function badAutocast(v: string): never {
  throw new Error(`--autocast must be bf16, got "${v}"`);
}

export function trainerConfigFrom(o: TrainingCliOptions): TrainerConfig {
  if (!isScheduleKind(o.schedule)) throw new Error(`--schedule must be constant, linear or cosine, got "${o.schedule}"`);
  return {
    runDir: o.out,
    maxSteps: o.steps,
    optimizer: o.optimizer,
    lr: o.lr,
    schedule: o.schedule,
    warmupSteps: o.warmup,
    minLrRatio: o.minLrRatio,
    weightDecay: o.weightDecay,
    momentum: o.momentum,
    gradAccum: o.gradAccum,
    clipGradNorm: o.clip,
    evalEvery: o.evalEvery,
    earlyStopping: o.earlyStop ? { patience: o.earlyStop } : null,
    checkpointEvery: o.checkpointEvery,
    keepLast: o.keepLast,
    gradCheckpoint: !!o.gradCheckpoint,
    autocast: o.autocast === undefined ? null : o.autocast === 'bf16' ? 'bf16' : badAutocast(o.autocast),
    tensorboard: !!o.tensorboard,
    resume: !!o.resume,
    progress: o.quiet ? 'quiet' : 'auto',
    logEvery: o.logEvery,
    handleSignals: true,
  };
}

// ---- text → ids ----------------------------------------------------------------------------------------------

export interface TextCodec {
  /** 'bytes' or the tokenizer folder. */
  name: string;
  vocabSize: number;
  eosId: number | null;
  encode(text: string): Int32Array;
}

/** UTF-8 bytes as ids: needs no vocabulary file and never meets an unknown character. */
export const byteCodec: TextCodec = {
  name: 'bytes',
  vocabSize: 256,
  eosId: null,
  encode: (text) => Int32Array.from(Buffer.from(text, 'utf8')),
};

/** A tokenizer folder (tokenizer.json, or GPT-2's vocab.json + merges.txt) through src/io/tokenizer.ts. */
export function loadCodec(dir: string | undefined): TextCodec {
  if (!dir) return byteCodec;
  const tok = loadTokenizer(dir);
  return {
    name: path.resolve(dir),
    vocabSize: tok.vocabSize,
    eosId: tok.eosId,
    // No BOS/EOS from the post-processor: the trainer's windows cut a corpus anywhere; EOS is added per
    // example where the data calls for it.
    encode: (text) => Int32Array.from(tok.encode(text, { addSpecialTokens: false })),
  };
}

/** The files of a tokenizer folder a model folder should carry, so the exported model is usable on its own. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'added_tokens.json'];

export function copyTokenizerFiles(codec: TextCodec, modelDir: string): string[] {
  if (codec.name === 'bytes') return [];
  const copied: string[] = [];
  for (const f of TOKENIZER_FILES) {
    const src = path.join(codec.name, f);
    if (fs.existsSync(src)) {
      fs.copyFileSync(src, path.join(modelDir, f));
      copied.push(f);
    }
  }
  return copied;
}

export function readTextFile(file: string, what: string): string {
  if (!fs.existsSync(file)) throw new Error(`${what} ${file}: no such file`);
  const text = fs.readFileSync(file, 'utf8');
  if (text.length === 0) throw new Error(`${file}: the file is empty`);
  return text;
}

/** Chronological split of one token stream: the held-out part is the end, so it never precedes training data. */
export function splitTail(tokens: Int32Array, fraction: number, need: number, file: string): { train: Int32Array; val: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`--val-fraction must be in (0, 1) when no --val-data is given, got ${fraction}`);
  const nVal = Math.floor(tokens.length * fraction);
  const train = tokens.subarray(0, tokens.length - nVal);
  const val = tokens.subarray(tokens.length - nVal);
  if (val.length < need || train.length < need) {
    throw new Error(
      `${file}: ${tokens.length} tokens split ${train.length} / ${val.length} (train / held-out); each part needs at least ${need} ` +
        `(--seq-len + 1). Use more data, a smaller --seq-len, or --val-data`,
    );
  }
  return { train, val };
}

export function report(result: TrainResult, runDir: string, finalDir: string, write: (s: string) => void): void {
  const lines = [`trained ${result.step} steps (${result.stoppedBy.replace('_', ' ')})${result.resumedFrom !== null ? `, resumed from step ${result.resumedFrom}` : ''}`];
  if (result.finalValLoss !== null) lines.push(`held-out loss ${result.finalValLoss.toFixed(4)}, perplexity ${Math.exp(result.finalValLoss).toFixed(3)}`);
  if (result.bestValLoss !== null) lines.push(`best held-out loss ${result.bestValLoss.toFixed(4)} (perplexity ${Math.exp(result.bestValLoss).toFixed(3)}) at step ${result.bestStep}`);
  lines.push(`run folder: ${runDir}`, `final model: ${finalDir}`);
  write(lines.join('\n') + '\n');
}
