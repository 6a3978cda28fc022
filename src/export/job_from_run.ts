/**
 * Build a job spec from a fintune fine-tuning run folder (its config.json) or from a config file with the same
 * keys: the examples are rebuilt with fintune's own example reader from the same data, tokenizer and context
 * length, and split at the same place, so the job trains on exactly fintune's batches.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readExamples } from '../cli/commands/finetune.js';
import { loadCodec } from '../train/cli_support.js';
import type { JobExample, JobMethod, JobSpec, JobTestItem } from './job.js';
import { VERSION } from '../version.js';

/** What the job needs of a run's config.json (written by `fintune finetune`). */
export interface RunDescription {
  command?: string;
  method: string;
  methodOptions?: Record<string, unknown>;
  model: string | { preset: string };
  data: string;
  valData?: string | null;
  tokenizer: string;
  seqLen: number;
  batchSize: number;
  seed: number;
  trainExamples?: number;
  heldOutExamples?: number;
  trainer: {
    lr: number;
    maxSteps: number;
    schedule?: 'constant' | 'linear' | 'cosine';
    warmupSteps?: number;
    weightDecay?: number;
    gradAccum?: number;
    clipGradNorm?: number | null;
    betas?: [number, number];
    eps?: number;
  };
}

function num(o: Record<string, unknown>, keys: string[], dflt?: number): number | undefined {
  for (const k of keys) if (typeof o[k] === 'number') return o[k] as number;
  for (const k of keys) if (typeof o[k] === 'string' && o[k] !== '' && Number.isFinite(Number(o[k]))) return Number(o[k]);
  return dflt;
}

function list(o: Record<string, unknown>, keys: string[]): string[] | string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === 'string') return v === 'all-linear' ? v : v.split(',').map((s) => s.trim()).filter(Boolean);
  }
  return undefined;
}

function flag(o: Record<string, unknown>, keys: string[]): boolean | undefined {
  for (const k of keys) if (o[k] !== undefined) return o[k] === true || o[k] === 'true' || o[k] === 1 || o[k] === '1';
  return undefined;
}

/** fintune's method name and options → the job's method (PEFT config is derived from it in job.ts). */
export function jobMethod(name: string, opts: Record<string, unknown>, modelType: string): JobMethod {
  const gpt2 = modelType === 'gpt2';
  const defaultTargets = gpt2 ? ['c_attn'] : ['q_proj', 'v_proj'];
  switch (name) {
    case 'full':
    case 'bitfit':
      return { name };
    case 'lora':
    case 'rslora':
    case 'dora':
    case 'qlora': {
      const r = num(opts, ['r', 'rank'], 8)!;
      return {
        name: name === 'qlora' ? 'qlora' : 'lora',
        r,
        loraAlpha: num(opts, ['alpha', 'loraAlpha', 'lora_alpha'], 2 * r)!,
        loraDropout: num(opts, ['dropout', 'loraDropout', 'lora_dropout'], 0),
        targetModules: list(opts, ['targetModules', 'target_modules', 'targets', 'target']) ?? defaultTargets,
        useRslora: name === 'rslora' || flag(opts, ['useRslora', 'use_rslora', 'rslora']),
        useDora: name === 'dora' || flag(opts, ['useDora', 'use_dora', 'dora']),
        // GPT-2's Conv1D stores W as [in, out]: PEFT needs fan_in_fan_out for it.
        fanInFanOut: gpt2,
      };
    }
    case 'ia3':
      return {
        name: 'ia3',
        targetModules: (list(opts, ['targetModules', 'target_modules']) as string[] | undefined) ?? (gpt2 ? ['c_attn', 'mlp.c_proj'] : ['k_proj', 'v_proj', 'down_proj']),
        feedforwardModules: (list(opts, ['feedforwardModules', 'feedforward_modules']) as string[] | undefined) ?? (gpt2 ? ['mlp.c_proj'] : ['down_proj']),
        fanInFanOut: gpt2,
      };
    case 'prefix':
      return { name: 'prefix', numVirtualTokens: num(opts, ['numVirtualTokens', 'num_virtual_tokens', 'tokens'], 20)!, prefixProjection: flag(opts, ['prefixProjection', 'prefix_projection', 'projection']) ?? false };
    case 'prompt':
      return { name: 'prompt', numVirtualTokens: num(opts, ['numVirtualTokens', 'num_virtual_tokens', 'tokens'], 20)!, initText: typeof opts.initText === 'string' ? opts.initText : null };
    default:
      return { name, ...opts };
  }
}

export interface FromRunOptions {
  /** The base model id or path the cluster will load (default: the run's model folder). */
  baseModel?: string;
  zeroStage?: 2 | 3;
  launcher?: 'accelerate' | 'torchrun';
  machines?: number;
  gpusPerMachine?: number;
  /** Prompts to generate from after training (JSONL of {"id", "prompt", "max_new_tokens"?}). */
  testPrompts?: string;
}

export function jobSpecFromRun(desc: RunDescription, where: string, o: FromRunOptions = {}): JobSpec {
  if (desc.command && desc.command !== 'finetune') throw new Error(`${where}: a ${desc.command} run; export job takes fine-tuning runs`);
  if (!desc.data || !desc.data.endsWith('.jsonl')) {
    throw new Error(`${where}: export job needs prompt/answer JSONL data (this run trained on ${desc.data ?? 'nothing'}, whose random windows a job cannot reproduce example for example)`);
  }
  if (typeof desc.model !== 'string' && !o.baseModel) {
    throw new Error(`${where}: the run started from preset "${desc.model.preset}", which no Hugging Face job can load; pass --base-model`);
  }
  const baseDir = typeof desc.model === 'string' ? desc.model : null;
  const baseModel = o.baseModel ?? baseDir!;
  let modelType = 'gpt2';
  if (baseDir && fs.existsSync(path.join(baseDir, 'config.json'))) {
    modelType = String((JSON.parse(fs.readFileSync(path.join(baseDir, 'config.json'), 'utf8')) as { model_type?: string }).model_type ?? 'gpt2');
  }
  if (desc.tokenizer === 'bytes') throw new Error(`${where}: the run used byte-level ids, which have no Hugging Face tokenizer; train with --tokenizer DIR to export`);
  const codec = loadCodec(desc.tokenizer);
  const all = readExamples(desc.data, codec, desc.seqLen);
  let train: typeof all, val: typeof all;
  if (desc.valData) {
    train = all;
    val = readExamples(desc.valData, codec, desc.seqLen);
  } else {
    const nTrain = desc.trainExamples ?? all.length;
    if (nTrain > all.length) throw new Error(`${where}: the run used ${nTrain} training examples but ${desc.data} now has ${all.length}; the data changed`);
    train = all.slice(0, nTrain);
    val = all.slice(nTrain);
  }
  const toJob = (e: (typeof all)[number]): JobExample => ({ input_ids: Array.from(e.inputIds), labels: Array.from(e.labels) });
  const t = desc.trainer;
  let test: JobTestItem[] = [];
  if (o.testPrompts) {
    test = fs
      .readFileSync(o.testPrompts, 'utf8')
      .split('\n')
      .map((l, i) => [l.trim(), i] as const)
      .filter(([l]) => l)
      .map(([l, i]) => {
        let v: { id?: unknown; prompt?: unknown; max_new_tokens?: unknown };
        try {
          v = JSON.parse(l);
        } catch (e) {
          throw new Error(`${o.testPrompts}:${i + 1}: not valid JSON (${(e as Error).message})`);
        }
        if (typeof v.prompt !== 'string') throw new Error(`${o.testPrompts}:${i + 1}: needs a string "prompt"`);
        return { id: typeof v.id === 'string' ? v.id : `p${i + 1}`, prompt_ids: Array.from(codec.encode(v.prompt)), max_new_tokens: typeof v.max_new_tokens === 'number' ? v.max_new_tokens : 64 };
      });
  }
  return {
    name: path.basename(path.resolve(where)),
    baseModel,
    method: jobMethod(desc.method, desc.methodOptions ?? {}, modelType),
    training: {
      lr: t.lr,
      maxSteps: t.maxSteps,
      batchSize: desc.batchSize,
      gradAccum: t.gradAccum ?? 1,
      schedule: t.schedule ?? 'cosine',
      warmupSteps: t.warmupSteps ?? 0,
      weightDecay: t.weightDecay ?? 0.01,
      clipGradNorm: t.clipGradNorm ?? 0,
      seed: desc.seed,
      betas: t.betas,
      eps: t.eps,
    },
    data: { train: train.map(toJob), val: val.map(toJob), test },
    launcher: { kind: o.launcher ?? 'accelerate', zeroStage: o.zeroStage ?? 2, numMachines: o.machines ?? 1, gpusPerMachine: o.gpusPerMachine ?? 8 },
    provenance: { run: path.resolve(where), fintune: VERSION },
  };
}

/** Read a run folder's config.json (or a config file with the same keys). */
export function readRunDescription(file: string): RunDescription {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const d = v as Partial<RunDescription>;
  for (const k of ['method', 'model', 'data', 'tokenizer', 'seqLen', 'batchSize', 'seed', 'trainer'] as const) {
    if (d[k] === undefined) throw new Error(`${file}: missing "${k}" (is this a fintune finetune run's config.json?)`);
  }
  return d as RunDescription;
}
