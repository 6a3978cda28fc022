/**
 * `fintune merge --model DIR --adapter DIR --out DIR`: fold a LoRA, DoRA or IA3 adapter (PEFT's format or
 * fintune's) into its base and write an ordinary Hugging Face checkpoint, with the base's tokenizer files.
 * A bitsandbytes 4-bit base is dequantized first: the merged model is a float model, no longer 4-bit.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadModel } from '../../models/load.js';
import { saveModel } from '../../models/save.js';
import type { CausalLM } from '../../models/common.js';
import { loadAdapter } from '../../peft/load.js';
import { mergeAndUnload, MERGEABLE } from '../../peft/merge.js';
import { wordEmbeddings } from '../../peft/common.js';
import { dequantizeModel, loadQuantizedModel } from '../../peft/quant/index.js';
import { printJson, UsageError } from '../util.js';

/** Files copied from the base folder so the merged folder is usable on its own. */
const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'generation_config.json'];

export function register(program: Command): void {
  program
    .command('merge')
    .description('Merge a LoRA/DoRA/IA3 adapter into its base model and save a plain Hugging Face checkpoint')
    .requiredOption('--model <dir>', 'base checkpoint folder (config.json + *.safetensors; bitsandbytes 4-bit is dequantized)')
    .requiredOption('--adapter <dir>', 'adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dtype <dtype>', 'weights dtype of the output: keep, f32 or bf16', 'keep')
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune merge --model ./gpt2 --adapter runs/lora-1/adapter --out runs/lora-1/merged
  $ fintune merge --model ./Llama-3.2-1B --adapter ./my-peft-adapter --out ./merged --dtype bf16

Prefix/prompt tuning and bottleneck adapters add computation with no weight to fold into and cannot be merged.`,
    )
    .action((o: { model: string; adapter: string; out: string; dtype: string; json?: boolean }) => {
      if (!['keep', 'f32', 'bf16'].includes(o.dtype)) throw new UsageError(`--dtype must be keep, f32 or bf16, got "${o.dtype}"`);
      if (path.resolve(o.out) === path.resolve(o.model)) throw new UsageError('--out must differ from --model (the base would be overwritten)');
      const r = mergeFolder(o.model, o.adapter, o.out, o.dtype as 'keep');
      if (o.json) printJson(r);
      else {
        if (r.note) process.stdout.write(r.note + '\n');
        process.stdout.write(`merged ${r.method} adapter into ${r.layers} layers; wrote ${r.files.length} files to ${o.out}\n`);
      }
    });
}

export function mergeFolder(modelDir: string, adapterDir: string, out: string, dtype: 'keep' | 'f32' | 'bf16' = 'keep'): { method: string; layers: number; files: string[]; note: string | null } {
  const cfgRaw = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  let model: CausalLM;
  let note: string | null = null;
  if (cfgRaw.quantization_config) {
    model = loadQuantizedModel(modelDir).model;
    const d = dequantizeModel(model);
    note = `the base is quantized: ${d.replaced.length} layers dequantized before merging; the merged model is a float model, no longer 4-bit`;
  } else model = loadModel(modelDir);
  const { method } = loadAdapter(model, adapterDir);
  if (!MERGEABLE.includes(method)) throw new Error(`${adapterDir}: a ${method} adapter cannot be merged (only LoRA, DoRA and IA3 fold into weights)`);
  const layers = model.namedModules().filter(([n]) => n.endsWith('.base_layer')).length;
  mergeAndUnload(model);
  // A modules_to_save copy of a tied head is its own matrix now: the checkpoint must say the head is untied.
  const untied = model.lm_head.weight !== wordEmbeddings(model).weight && cfgRaw.tie_word_embeddings !== false;
  const files = saveModel(model, out, { dtype, ...(untied ? { extraConfig: { tie_word_embeddings: false } } : {}) });
  for (const f of SIDE_FILES) {
    const src = path.join(modelDir, f);
    if (fs.existsSync(src)) {
      fs.copyFileSync(src, path.join(out, f));
      files.push(path.join(out, f));
    }
  }
  return { method, layers, files, note };
}
