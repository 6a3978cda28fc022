import type { Command } from 'commander';
import path from 'node:path';
import { exportOnnx } from '../../export/onnx.js';
import { writeJob } from '../../export/job.js';
import { jobSpecFromRun, readRunDescription } from '../../export/job_from_run.js';
import { loadModelWithAdapter } from '../model_loading.js';
import { intArg, printJson, UsageError } from '../util.js';

export function register(program: Command): void {
  const exp = program.command('export').description('Export a model for other engines (ONNX) or a run as a cluster job');
  exp
    .command('onnx')
    .description('Write the model as an ONNX decoder with a KV cache (transformers.js / Optimum layout, opset 17)')
    .requiredOption('--model <dir>', 'Hugging Face checkpoint folder (config.json + *.safetensors)')
    .option('--adapter <dir>', 'PEFT adapter to merge first (LoRA, DoRA, IA3)')
    .requiredOption('--out <dir>', 'output folder (gets onnx/model.onnx, config.json, tokenizer files)')
    .option('--external-data <mode>', 'weights in onnx/model.onnx_data: auto (above ~1.8 GB), always, never', 'auto')
    .option('--json', 'print the written files as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune export onnx --model ./gpt2 --adapter runs/lora/adapter --out runs/lora/onnx
  $ fintune export onnx --model ./gpt2 --out ./gpt2-onnx --external-data always

The graph takes input_ids, attention_mask, position_ids and past_key_values.N.key/value
[batch, kv_heads, past, head_dim] (past = 0 on the first step) and returns logits and present.N.key/value.
See docs/onnx.md for running it in onnxruntime and a MetaTrader 5 expert advisor.`,
    )
    .action((o: { model: string; adapter?: string; out: string; externalData: string; json?: boolean }) => {
      if (!['auto', 'always', 'never'].includes(o.externalData)) {
        throw new UsageError(`--external-data must be auto, always or never, got "${o.externalData}"`);
      }
      const model = loadModelWithAdapter(o, { merge: true });
      const files = exportOnnx(model, o.out, { externalData: o.externalData as 'auto', sourceDir: o.model });
      if (o.json) printJson({ files });
      else process.stdout.write(`wrote ${files.length} files to ${o.out}\n`);
    });
  exp
    .command('job')
    .description('Write a Transformers + PEFT project (accelerate / DeepSpeed / torchrun) reproducing a fine-tuning run on GPUs')
    .option('--run <dir>', 'a fintune finetune run folder (its config.json)')
    .option('--config <file>', 'or a config file with the same keys as a run\'s config.json')
    .requiredOption('--out <dir>', 'folder for the Python project')
    .option('--base-model <id>', 'model id or path the cluster loads (default: the run\'s model folder)')
    .option('--zero <stage>', 'DeepSpeed ZeRO stage: 2 or 3', '2')
    .option('--launcher <kind>', 'accelerate or torchrun (the README shows both)', 'accelerate')
    .option('--machines <n>', 'nodes', intArg('--machines', 1), 1)
    .option('--gpus <n>', 'GPUs per node', intArg('--gpus', 1), 8)
    .option('--test-prompts <file>', 'JSONL of {"id","prompt"} to generate from after training')
    .option('--json', 'print the written files as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune export job --run runs/fingpt-lora --out jobs/fingpt-lora --base-model meta-llama/Llama-3.1-8B-Instruct --zero 3
  $ cd jobs/fingpt-lora && accelerate launch --config_file accelerate_config.yaml train.py
  $ fintune import --job jobs/fingpt-lora --out runs/fingpt-lora-gpu

Methods without a PEFT equivalent (houlsby, pfeiffer, parallel, mql5-stacked) are refused with that reason.`,
    )
    .action((o: { run?: string; config?: string; out: string; baseModel?: string; zero: string; launcher: string; machines: number; gpus: number; testPrompts?: string; json?: boolean }) => {
      if (!!o.run === !!o.config) throw new UsageError('give exactly one of --run DIR or --config FILE');
      if (o.zero !== '2' && o.zero !== '3') throw new UsageError(`--zero must be 2 or 3, got "${o.zero}"`);
      if (o.launcher !== 'accelerate' && o.launcher !== 'torchrun') throw new UsageError(`--launcher must be accelerate or torchrun, got "${o.launcher}"`);
      const file = o.run ? path.join(o.run, 'config.json') : o.config!;
      const spec = jobSpecFromRun(readRunDescription(file), o.run ?? path.dirname(file), {
        baseModel: o.baseModel,
        zeroStage: Number(o.zero) as 2 | 3,
        launcher: o.launcher as 'accelerate',
        machines: o.machines,
        gpusPerMachine: o.gpus,
        testPrompts: o.testPrompts,
      });
      const files = writeJob(spec, o.out);
      if (o.json) printJson({ files, examples: { train: spec.data.train.length, val: spec.data.val.length } });
      else process.stdout.write(`wrote ${o.out} (${spec.data.train.length} training examples, method ${spec.method.name}); see its README.md\n`);
    });
}
