/**
 * `fintune methods --model DIR`: every fine-tuning method for this model — trainable parameters and percent,
 * estimated training memory, the size of what it saves — and a recommendation from the number of examples and
 * a memory budget.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { readHfConfig } from '../../io/hf_config.js';
import { modelFromConfig } from '../../models/load.js';
import { planMethods, recommend, type PlanOptions } from '../../peft/plan.js';
import { METHODS } from '../../peft/registry.js';
import { floatArg, intArg, printJson } from '../util.js';

interface Opts {
  model: string;
  examples?: number;
  memoryBudget?: number;
  batch: number;
  seqLen: number;
  r: number;
  virtualTokens: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('methods')
    .description('Compare fine-tuning methods for a model: trainable parameters, memory estimate, artefact size, recommendation')
    .requiredOption('--model <dir>', 'checkpoint folder (only config.json is read)')
    .option('--examples <n>', 'number of training examples (for the recommendation)', intArg('--examples', 1))
    .option('--memory-budget <GB>', 'memory available for training, in GB', floatArg('--memory-budget', 0))
    .option('--batch <n>', 'batch size of the memory estimate', intArg('--batch', 1), 8)
    .option('--seq-len <n>', 'sequence length of the memory estimate', intArg('--seq-len', 1), 256)
    .option('--r <n>', 'LoRA rank counted', intArg('--r', 1), 8)
    .option('--virtual-tokens <n>', 'prefix/prompt tuning virtual tokens counted', intArg('--virtual-tokens', 1), 20)
    .option('--json', 'print rows and the recommendation as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune methods --model ./gpt2
  $ fintune methods --model ./gpt2 --examples 300 --memory-budget 4

Memory is an estimate (weights, gradients, AdamW state, activations at --batch × --seq-len, runtime);
measure with a short run before committing to a long one.`,
    )
    .action((o: Opts) => {
      const cfg = readHfConfig(path.join(o.model, 'config.json'));
      // Structure only: bf16 matrices halve the memory of this throw-away model; weights are never read.
      const model = modelFromConfig(cfg, 'bf16');
      const plan: PlanOptions = { r: o.r, numVirtualTokens: o.virtualTokens, batch: o.batch, seqLen: o.seqLen, examples: o.examples, budgetBytes: o.memoryBudget !== undefined ? o.memoryBudget * 1e9 : undefined };
      const rows = planMethods(model, plan);
      const rec = recommend(rows, plan);
      if (o.json) return printJson({ rows, recommendation: rec });
      const desc = new Map(METHODS.map((m) => [m.name, m.description]));
      const fmtBytes = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
      const table = [['method', 'trainable', '%', 'memory (est.)', 'artefact', 'what trains'], ...rows.map((r) => [r.method, r.unavailable ? '—' : r.trainable.toLocaleString('en-US'), r.unavailable ? '—' : r.percent.toFixed(4), r.unavailable ? '—' : fmtBytes(r.memoryBytes), r.unavailable ? '—' : fmtBytes(r.artefactBytes), r.unavailable ? `n/a: ${r.unavailable}` : desc.get(r.method) ?? ''])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(row.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd() + '\n');
      process.stdout.write(`\nmemory at batch ${o.batch} × ${o.seqLen} tokens, LoRA r ${o.r}, ${o.virtualTokens} virtual tokens\n`);
      process.stdout.write(`recommended: ${rec.method} — ${rec.reason}\n`);
    });
}
