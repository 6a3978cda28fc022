/**
 * `fintune finetune --method NAME`: fine-tune a checkpoint on prompt/answer examples (JSONL) or plain text.
 *
 * JSONL lines are objects with "prompt" and one of "answer" / "completion" / "response" (loss on the answer
 * tokens only), or a "text" field (loss on every token). Any other file is plain text, trained like
 * continued pre-training. Methods go through the study's method layer (src/study/methods.ts), so the command
 * line and the studies train exactly the same things: "full", "bitfit" and "layernorm" are built in, and every
 * other name is looked up in the PEFT registry (src/peft/registry.ts) when the build has it.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { GPT2 } from '../../models/gpt2.js';
import { loadModel } from '../../models/load.js';
import { presetNames, presetOptions } from '../../models/presets.js';
import { saveModel } from '../../models/save.js';
import { saveAdapter } from '../../peft/save.js';
import type { CausalLM } from '../../models/common.js';
import { exampleBatches, IGNORE_INDEX, RandomWindows, sequentialWindows, ShuffledExamples, type Example } from '../../train/data.js';
import { Trainer } from '../../train/trainer.js';
import { packDocuments, tokenizeDocuments, type DocumentInput } from '../../data/packing.js';
import { PackedBlocks, packedEvalBatches } from '../../data/batching.js';
import { applyStudyMethod, BUILTIN_METHODS } from '../../study/methods.js';
import { finishRun } from '../../train/finish.js';
import type { EvalData, TrainData } from '../../train/types.js';
import { addTrainingOptions, copyTokenizerFiles, loadCodec, readTextFile, splitTail, trainerConfigFrom, type TextCodec, type TrainingCliOptions } from '../../train/cli_support.js';

interface FinetuneOptions extends TrainingCliOptions {
  data: string;
  method: string;
  methodOption: string[];
  model?: string;
  preset?: string;
  export: 'best' | 'last';
  pack?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('Fine-tune a model on prompt/answer JSONL or plain text, with held-out loss and perplexity')
    .requiredOption('--data <file>', 'JSONL ({"prompt","answer"} or {"text"} per line) or plain text')
    .option('--method <name>', `fine-tuning method: ${BUILTIN_METHODS.join(', ')}, or a PEFT method from src/peft/registry.ts`, 'full')
    .option('--method-option <key=value>', 'a method setting, e.g. r=8 (repeatable; values are read as JSON when they parse)', collect, [])
    .option('--model <dir>', 'checkpoint folder to fine-tune (config.json + safetensors)')
    .option('--preset <name>', `start from a freshly initialized preset instead (${presetNames().join(', ')}); for experiments`)
    .option('--export <which>', 'weights saved to <out>/final: "best" (lowest held-out loss) or "last"', 'best')
    .option('--pack', 'JSONL: pack examples into --seq-len blocks (EOS-separated, attention kept inside each example, positions restarted) instead of padding each one');
  addTrainingOptions(cmd).action(async (opts: FinetuneOptions) => {
    await runFinetune(opts);
  });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function parseMethodOptions(list: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--method-option "${item}": expected key=value`);
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: keep the text (e.g. target=c_attn).
    }
    out[item.slice(0, eq)] = value;
  }
  return out;
}

/** Methods that leave the model's structure as it was (their result is an ordinary checkpoint). */
const STRUCTURE_UNCHANGED = new Set(['full', 'bitfit', 'layernorm']);

export async function runFinetune(o: FinetuneOptions): Promise<void> {
  const methodParams = parseMethodOptions(o.methodOption ?? []);
  if ((o.model ? 1 : 0) + (o.preset ? 1 : 0) !== 1) throw new Error('give exactly one of --model <dir> or --preset <name>');
  const codec = loadCodec(o.tokenizer);
  let model: CausalLM;
  if (o.model) model = loadModel(o.model);
  else {
    const g = new GPT2(presetOptions(o.preset!, codec.vocabSize));
    g.initWeights(o.seed);
    model = g as unknown as CausalLM;
  }
  const vocab = model.lm_head.weight.shape[0]!;
  if (codec.vocabSize > vocab) throw new Error(`the tokenizer has ${codec.vocabSize} ids but the model only ${vocab}`);
  // Before the trainer exists: it collects what trains (requiresGrad) when it is built, and a resumed run
  // rebuilds the same structure before loading the checkpoint's trainable tensors.
  const applied = await applyStudyMethod(model, o.method, methodParams);
  if (!o.quiet) {
    process.stderr.write(`method ${applied.name}: ${applied.trainable.toLocaleString('en-US')} of ${applied.total.toLocaleString('en-US')} parameters train\n`);
  }
  const cfg = (model as unknown as { config?: { nPositions?: number; maxPositions?: number } }).config;
  const ctx = cfg?.nPositions ?? cfg?.maxPositions ?? 1024;
  const seqLen = o.seqLen ?? Math.min(ctx, 256);
  if (seqLen > ctx) throw new Error(`--seq-len ${seqLen} is longer than the model's context of ${ctx} positions`);

  let train: TrainData, evalData: EvalData, counts: Record<string, number>;
  if (o.data.endsWith('.jsonl') && o.pack) {
    // Packed: several examples share a block; the block-diagonal mask and restarted positions make each one see
    // only itself, so the losses are those of the examples trained alone, with far fewer padding tokens.
    const docsOf = (file: string) => tokenizeDocuments(codec, readDocuments(file), { loss: 'answer', eosId: codec.eosId ?? undefined }).docs;
    let tr = docsOf(o.data);
    let va: typeof tr;
    if (o.valData) va = docsOf(o.valData);
    else {
      if (!(o.valFraction > 0 && o.valFraction < 1)) throw new Error(`--val-fraction must be in (0, 1) when no --val-data is given, got ${o.valFraction}`);
      const nVal = Math.floor(tr.length * o.valFraction);
      if (nVal < 1 || nVal >= tr.length) throw new Error(`${o.data}: ${tr.length} examples leave ${nVal} held out with --val-fraction ${o.valFraction}; both parts need at least one`);
      va = tr.slice(tr.length - nVal);
      tr = tr.slice(0, tr.length - nVal);
    }
    const padId = codec.eosId ?? 0;
    const packed = packDocuments(tr, { blockSize: seqLen, overflow: 'error' });
    const held = packDocuments(va, { blockSize: seqLen, overflow: 'error', strategy: 'in-order' });
    train = new PackedBlocks(packed.blocks, { batchSize: o.batchSize, seed: o.seed, padId });
    evalData = packedEvalBatches(held.blocks.slice(0, o.batchSize * o.evalBatches), o.batchSize, { padId });
    counts = { trainExamples: tr.length, heldOutExamples: va.length, trainBlocks: packed.blocks.length, heldOutBlocks: held.blocks.length };
  } else if (o.data.endsWith('.jsonl')) {
    const all = readExamples(o.data, codec, seqLen);
    let tr: Example[], va: Example[];
    if (o.valData) {
      tr = all;
      va = readExamples(o.valData, codec, seqLen);
    } else {
      if (!(o.valFraction > 0 && o.valFraction < 1)) throw new Error(`--val-fraction must be in (0, 1) when no --val-data is given, got ${o.valFraction}`);
      // The held-out examples are the file's last ones: for time-ordered data they come after the training ones.
      const nVal = Math.floor(all.length * o.valFraction);
      if (nVal < 1 || nVal >= all.length) throw new Error(`${o.data}: ${all.length} examples leave ${nVal} held out with --val-fraction ${o.valFraction}; both parts need at least one`);
      tr = all.slice(0, all.length - nVal);
      va = all.slice(all.length - nVal);
    }
    train = new ShuffledExamples(tr, { batchSize: o.batchSize, seed: o.seed });
    evalData = exampleBatches(va.slice(0, o.batchSize * o.evalBatches), o.batchSize);
    counts = { trainExamples: tr.length, heldOutExamples: va.length };
  } else {
    const tokens = codec.encode(readTextFile(o.data, '--data'));
    const parts = o.valData ? { train: tokens, val: codec.encode(readTextFile(o.valData, '--val-data')) } : splitTail(tokens, o.valFraction, seqLen + 1, o.data);
    train = new RandomWindows(parts.train, { batchSize: o.batchSize, seqLen, seed: o.seed });
    evalData = sequentialWindows(parts.val, o.batchSize, seqLen, o.evalBatches);
    counts = { trainTokens: parts.train.length, heldOutTokens: parts.val.length };
  }

  const trainer = new Trainer({
    model,
    train,
    eval: evalData,
    config: trainerConfigFrom(o),
    describe: {
      command: 'finetune',
      method: o.method,
      methodOptions: methodParams as never,
      model: o.model ? path.resolve(o.model) : { preset: o.preset! },
      data: path.resolve(o.data),
      valData: o.valData ? path.resolve(o.valData) : null,
      tokenizer: codec.name,
      seqLen,
      batchSize: o.batchSize,
      seed: o.seed,
      ...counts,
    },
  });
  await finishRun(trainer, o.out, o.export, (m, dir) => {
    if (applied.merge || STRUCTURE_UNCHANGED.has(o.method)) {
      // LoRA, DoRA and IA3 fold into the base; full / BitFit / LayerNorm tuning change weights only: final/ is an
      // ordinary model folder either way.
      applied.merge?.();
      saveModel(m as CausalLM, dir, { extraConfig: { fintune_tokenizer: codec.name } });
    } else {
      // Prefix/prompt tuning, bottleneck adapters and QLoRA add computation no weight can absorb: final/ is the
      // adapter (PEFT's format where PEFT has the method), to load on top of the base model it names.
      saveAdapter(m as CausalLM, dir, { baseModelNameOrPath: o.model ? path.resolve(o.model) : null });
      if (!o.quiet) process.stderr.write(`${o.method}: saved as an adapter in ${dir}; load it with --model ${o.model ?? '<base>'} --adapter ${dir}\n`);
    }
    copyTokenizerFiles(codec, dir);
  });
}

/** JSONL prompt/answer (or text) records as documents to tokenize and pack, each named FILE:LINE. */
function readDocuments(file: string): DocumentInput[] {
  const out: DocumentInput[] = [];
  readTextFile(file, '--data').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const name = `${file}:${i + 1}`;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${name}: not valid JSON (${(err as Error).message})`);
    }
    const answer = obj?.answer ?? obj?.completion ?? obj?.response;
    if (typeof obj?.prompt === 'string' && typeof answer === 'string') out.push({ prompt: obj.prompt, answer, name });
    else if (typeof obj?.text === 'string') out.push({ text: obj.text, name });
    else throw new Error(`${name}: needs string fields "prompt" and "answer" (or "completion" / "response"), or "text"`);
  });
  if (out.length === 0) throw new Error(`${file}: no examples`);
  return out;
}

/**
 * Prompt/answer (or text) examples from JSONL. The target of position t is token t+1; prompt positions are not
 * scored. Every problem names the file and line.
 */
export function readExamples(file: string, codec: TextCodec, seqLen: number): Example[] {
  const text = readTextFile(file, '--data');
  const out: Example[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (!line) return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message})${i === lines.length - 1 ? ' — is the last line truncated?' : ''}`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${where}: expected a JSON object`);
    const answer = obj.answer ?? obj.completion ?? obj.response;
    let prompt: Int32Array, target: Int32Array;
    if (typeof obj.prompt === 'string' && typeof answer === 'string') {
      prompt = codec.encode(obj.prompt);
      target = codec.encode(answer);
    } else if (typeof obj.text === 'string') {
      prompt = new Int32Array(0);
      target = codec.encode(obj.text);
    } else throw new Error(`${where}: needs string fields "prompt" and "answer" (or "completion" / "response"), or "text"`);
    const eos = codec.eosId !== null ? [codec.eosId] : [];
    const all = Int32Array.from([...prompt, ...target, ...eos]);
    if (all.length < 2) throw new Error(`${where}: the example has fewer than 2 tokens`);
    if (all.length - 1 > seqLen) {
      throw new Error(`${where}: the example is ${all.length - 1} tokens (prompt ${prompt.length}), longer than the context of ${seqLen} (--seq-len); shorten it or raise --seq-len`);
    }
    const inputIds = all.slice(0, -1);
    const labels = all.slice(1);
    // labels[t] is all[t+1]: scored only when that token belongs to the answer (or is EOS).
    for (let t = 0; t + 1 < prompt.length; t++) labels[t] = IGNORE_INDEX;
    if (labels.every((l) => l === IGNORE_INDEX)) throw new Error(`${where}: the answer is empty, nothing to learn`);
    out.push({ inputIds, labels });
  });
  if (out.length === 0) throw new Error(`${file}: no examples`);
  return out;
}
