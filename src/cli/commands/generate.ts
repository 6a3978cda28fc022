import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadTokenizer } from '../../io/tokenizer.js';
import { generate } from '../../generate/generate.js';
import { loadModelWithAdapter } from '../model_loading.js';
import { floatArg, idListArg, intArg, printJson, UsageError } from '../util.js';

export function register(program: Command): void {
  program
    .command('generate')
    .description('Generate a continuation with a KV cache (greedy by default)')
    .requiredOption('--model <dir>', 'Hugging Face checkpoint folder')
    .option('--adapter <dir>', 'PEFT adapter folder to apply (adapter_config.json + adapter_model.safetensors)')
    .option('--prompt <text>', 'prompt text (needs the model folder\'s tokenizer)')
    .option('--prompt-ids <ids>', 'prompt as comma-separated token ids', idListArg)
    .option('--max-new-tokens <n>', 'tokens to generate', intArg('--max-new-tokens', 0), 32)
    .option('--greedy', 'most likely token at each step (the default unless --temperature/--top-k/--top-p)')
    .option('--temperature <t>', 'sample with this temperature', floatArg('--temperature', 1e-6))
    .option('--top-k <k>', 'sample among the k most likely tokens', intArg('--top-k', 0))
    .option('--top-p <p>', 'sample among the most likely tokens up to mass p', floatArg('--top-p', 0, 1))
    .option('--repetition-penalty <r>', 'penalize repeated tokens (> 1)', floatArg('--repetition-penalty', 0))
    .option('--seed <n>', 'sampling seed', intArg('--seed', 0), 0)
    .option('--dtype <dtype>', 'weights: f32 or bf16 (half the memory)', 'f32')
    .option('--json', 'print {"ids": [...], "text": ...}')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune generate --model ../shared/fixtures/gpt2-tiny-trained --prompt-ids 5,9,12,3 --max-new-tokens 8 --json
  $ fintune generate --model ./my-model --prompt-ids 1,2,3 --temperature 0.8 --top-p 0.9 --seed 7`,
    )
    .action(
      (o: {
        model: string;
        adapter?: string;
        prompt?: string;
        promptIds?: number[];
        maxNewTokens: number;
        greedy?: boolean;
        temperature?: number;
        topK?: number;
        topP?: number;
        repetitionPenalty?: number;
        seed: number;
        dtype: string;
        json?: boolean;
      }) => {
        if (o.dtype !== 'f32' && o.dtype !== 'bf16') throw new UsageError(`--dtype must be f32 or bf16, got "${o.dtype}"`);
        if (!o.promptIds === !o.prompt) throw new UsageError('give a prompt with --prompt TEXT or --prompt-ids 1,2,3 (one of them)');
        const tok = o.prompt !== undefined || fs.existsSync(path.join(o.model, 'tokenizer.json')) || fs.existsSync(path.join(o.model, 'vocab.json')) ? loadTokenizer(o.model) : null;
        const promptIds = o.promptIds ?? tok!.encode(o.prompt!);
        if (promptIds.length === 0) throw new UsageError('the prompt encodes to no tokens');
        const model = loadModelWithAdapter({ model: o.model, adapter: o.adapter, dtype: o.dtype });
        const sample = !o.greedy && (o.temperature !== undefined || o.topK !== undefined || o.topP !== undefined);
        const r = generate(model, [promptIds], {
          maxNewTokens: o.maxNewTokens,
          doSample: sample,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          repetitionPenalty: o.repetitionPenalty,
          seed: o.seed,
          eosTokenId: tok ? [...tok.eosIds] : undefined,
          decode: tok ? (ids) => tok.decode(ids, { skipSpecialTokens: true }) : undefined,
        });
        if (o.json) printJson({ ids: r.ids[0], text: r.text[0] });
        else process.stdout.write((r.text[0] ?? r.ids[0]!.join(',')) + '\n');
      },
    );
}
