/**
 * `fintune pretrain`: train a GPT-2 preset from scratch on a text corpus, or continue pre-training a checkpoint
 * folder. The held-out part is the end of the corpus (or --val-data), so it never comes before training text.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { GPT2 } from '../../models/gpt2.js';
import { loadModel } from '../../models/load.js';
import { getPreset, presetNames, presetOptions } from '../../models/presets.js';
import { saveModel } from '../../models/save.js';
import type { CausalLM } from '../../models/common.js';
import { RandomWindows, sequentialWindows } from '../../train/data.js';
import { Trainer } from '../../train/trainer.js';
import { finishRun } from '../../train/finish.js';
import { addTrainingOptions, copyTokenizerFiles, loadCodec, readTextFile, splitTail, trainerConfigFrom, type TrainingCliOptions } from '../../train/cli_support.js';

interface PretrainOptions extends TrainingCliOptions {
  data: string;
  preset: string;
  init?: string;
  dropout: number;
  export: 'best' | 'last';
}

export function register(program: Command): void {
  const cmd = program
    .command('pretrain')
    .description('Pre-train a GPT-2 preset from scratch, or continue pre-training a checkpoint, on a text corpus')
    .requiredOption('--data <file>', 'training text (UTF-8)')
    .option('--preset <name>', `model size for training from scratch: ${presetNames().join(', ')}`, 'gpt2-1m')
    .option('--init <dir>', 'continue from this checkpoint folder (config.json + safetensors) instead of a preset')
    .option('--dropout <p>', 'residual and embedding dropout for a preset', (v) => Number(v), 0)
    .option('--export <which>', 'weights saved to <out>/final: "best" (lowest held-out loss) or "last"', 'best');
  addTrainingOptions(cmd).action(async (opts: PretrainOptions) => {
    await runPretrain(opts);
  });
}

export async function runPretrain(o: PretrainOptions): Promise<void> {
  if (o.export !== 'best' && o.export !== 'last') throw new Error(`--export must be "best" or "last", got "${o.export}"`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`--dropout must be in [0, 1), got ${o.dropout}`);
  const codec = loadCodec(o.tokenizer);
  const log = (s: string): void => void (o.quiet || process.stderr.write(s + '\n'));

  let model: CausalLM;
  let modelDesc: Record<string, unknown>;
  if (o.init) {
    model = loadModel(o.init);
    const vocab = model.lm_head.weight.shape[0]!;
    if (codec.vocabSize > vocab) throw new Error(`--tokenizer has ${codec.vocabSize} ids but the model in ${o.init} only ${vocab}`);
    if (codec.name === 'bytes') log(`note: byte-level ids are not the token ids ${o.init} was trained with; pass --tokenizer <dir> to use its tokenizer`);
    modelDesc = { init: path.resolve(o.init) };
  } else {
    getPreset(o.preset);
    const opts = presetOptions(o.preset, codec.vocabSize, o.dropout);
    const g = new GPT2(opts);
    g.initWeights(o.seed);
    model = g as unknown as CausalLM;
    modelDesc = { preset: o.preset, options: opts };
  }
  const ctx = contextOf(model);
  const seqLen = o.seqLen ?? Math.min(ctx, 256);
  if (seqLen > ctx) throw new Error(`--seq-len ${seqLen} is longer than the model's context of ${ctx} positions`);

  const tokens = codec.encode(readTextFile(o.data, '--data'));
  let train: Int32Array, val: Int32Array;
  if (o.valData) {
    train = tokens;
    val = codec.encode(readTextFile(o.valData, '--val-data'));
    for (const [f, t] of [[o.data, train], [o.valData, val]] as const) {
      if (t.length < seqLen + 1) throw new Error(`${f}: ${t.length} tokens, fewer than one window (--seq-len ${seqLen} + 1)`);
    }
  } else ({ train, val } = splitTail(tokens, o.valFraction, seqLen + 1, o.data));

  const trainer = new Trainer({
    model,
    train: new RandomWindows(train, { batchSize: o.batchSize, seqLen, seed: o.seed }),
    eval: sequentialWindows(val, o.batchSize, seqLen, o.evalBatches),
    config: trainerConfigFrom(o),
    describe: {
      command: 'pretrain',
      data: path.resolve(o.data),
      valData: o.valData ? path.resolve(o.valData) : null,
      valFraction: o.valData ? null : o.valFraction,
      tokenizer: codec.name,
      trainTokens: train.length,
      heldOutTokens: val.length,
      seqLen,
      batchSize: o.batchSize,
      seed: o.seed,
      model: modelDesc as never,
    },
  });
  await finishRun(trainer, o.out, o.export, (m, dir) => {
    saveModel(m as CausalLM, dir, { extraConfig: { fintune_tokenizer: codec.name } });
    copyTokenizerFiles(codec, dir);
  });
}

function contextOf(model: CausalLM): number {
  const c = (model as unknown as { config?: { nPositions?: number; maxPositions?: number } }).config;
  return c?.nPositions ?? c?.maxPositions ?? 1024;
}
