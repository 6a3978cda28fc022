import type { Command } from 'commander';
import { exportOnnx } from '../../export/onnx.js';
import { loadModel } from '../../models/load.js';
import { printJson, UsageError } from '../util.js';

export function register(program: Command): void {
  const exp = program.command('export').description('Export a model for other engines (ONNX) or a run as a cluster job');
  exp
    .command('onnx')
    .description('Write the model as an ONNX decoder with a KV cache (transformers.js / Optimum layout, opset 17)')
    .requiredOption('--model <dir>', 'Hugging Face checkpoint folder (config.json + *.safetensors)')
    .requiredOption('--out <dir>', 'output folder (gets onnx/model.onnx, config.json, tokenizer files)')
    .option('--external-data <mode>', 'weights in onnx/model.onnx_data: auto (above ~1.8 GB), always, never', 'auto')
    .option('--json', 'print the written files as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune export onnx --model runs/demo/merged --out runs/demo/onnx
  $ fintune export onnx --model ./gpt2 --out ./gpt2-onnx --external-data always

The graph takes input_ids, attention_mask, position_ids and past_key_values.N.key/value
[batch, kv_heads, past, head_dim] (past = 0 on the first step) and returns logits and present.N.key/value.
See docs/onnx.md for running it in onnxruntime and a MetaTrader 5 expert advisor.`,
    )
    .action((o: { model: string; out: string; externalData: string; json?: boolean }) => {
      if (!['auto', 'always', 'never'].includes(o.externalData)) {
        throw new UsageError(`--external-data must be auto, always or never, got "${o.externalData}"`);
      }
      const model = loadModel(o.model);
      const files = exportOnnx(model, o.out, { externalData: o.externalData as 'auto', sourceDir: o.model });
      if (o.json) printJson({ files });
      else process.stdout.write(`wrote ${files.length} files to ${o.out}\n`);
    });
}
