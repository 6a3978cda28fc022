/**
 * `fintune demo`: pre-train, fine-tune five ways, evaluate, back-test, run FinGPT-style LoRA and write a report,
 * all on the shipped data (../shared/data). The pipeline lives in src/demo/; this file only reads flags.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { demoMethods, type DemoSize } from '../../demo/config.js';
import { runDemo, summaryLines } from '../../demo/run.js';
import { intArg, printJson, UsageError } from '../util.js';

/** The project root (holds package.json): three folders above src/cli/commands or dist/cli/commands. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface DemoCliOptions {
  quick?: boolean;
  tiny?: boolean;
  out: string;
  data?: string;
  seed: number;
  methods?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('End to end on the shipped data: pre-train a price GPT, fine-tune it 5 ways, evaluate vs baselines, back-test, FinGPT-style LoRA, report')
    .option('--quick', 'smaller model, fewer steps and windows (about 3 minutes on 2 cores instead of about 15)')
    .addOption(new Option('--tiny', 'smoke-test budget: every stage runs on a handful of windows (seconds; results mean nothing)').hideHelp())
    .option('--out <dir>', 'output folder (one run folder per method inside)', 'runs/demo')
    .option('--data <dir>', 'shared data folder (default: ../shared/data next to the project)')
    .option('--seed <n>', 'seed for weights, adapter initialization and data order (decoding is greedy)', intArg('--seed', 0), 0)
    .option('--methods <list>', `comma-separated subset of ${demoMethods().map((m) => m.name).join(',')}`)
    .option('--json', 'print the demo results (demo.json) as JSON on stdout; progress stays on stderr')
    .addHelpText(
      'after',
      `
Examples:
  $ npx fintune demo --quick            # about 3 minutes; output in runs/demo
  $ npx fintune demo                    # about 15 minutes
  $ npx fintune serve --runs runs/demo  # then open the dashboard it prints

Every stage's planned and spent time is printed at the end, with where the report is. See docs/demo.md.`,
    )
    .action(async (o: DemoCliOptions) => {
      const size: DemoSize = o.tiny ? 'tiny' : o.quick ? 'quick' : 'default';
      const dataDir = path.resolve(o.data ?? path.join(ROOT, '..', 'shared', 'data'));
      if (!fs.existsSync(path.join(dataDir, 'forex', 'EURUSD_H4.csv'))) {
        throw new UsageError(`no shipped data at ${dataDir} (expected forex/EURUSD_H4.csv); pass --data <dir>`);
      }
      let methods: string[] | undefined;
      if (o.methods) {
        const known = demoMethods().map((m) => m.name);
        methods = o.methods.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = methods.filter((m) => !known.includes(m));
        if (bad.length || methods.length === 0) throw new UsageError(`--methods: unknown ${bad.join(', ') || '(empty)'}; choose from ${known.join(', ')}`);
      }
      const r = await runDemo({ size, out: o.out, dataDir, seed: o.seed, methods });
      if (o.json) printJson(r);
      const rel = path.relative(process.cwd(), r.out);
      const runsArg = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : r.out;
      for (const line of summaryLines(r, runsArg)) process.stderr.write(line + '\n');
    });
}
