/**
 * `fintune study CONFIG`: run a study (models × methods × seeds, each run in its own process) and aggregate it
 * into results.json; `--report` also writes report.md / report.html next to it.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, readStudyConfig } from '../../study/config.js';
import { writeReport } from '../../study/report.js';
import { runStudy } from '../../study/runner.js';
import { intArg, printJson, UsageError } from '../util.js';

interface StudyCliOptions {
  out?: string;
  quick?: boolean;
  seeds?: number;
  maxRuns?: number;
  report?: boolean;
  logScale?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('study')
    .description('Compare fine-tuning methods fairly: train and forecast every model × method × seed in its own process, then aggregate')
    .argument('<config>', 'study config (YAML or JSON); see docs/study.md and studies/')
    .option('--out <dir>', 'output folder (default: runs/study-<name>)')
    .option('--quick', 'one seed instead of the configured ones')
    .option('--seeds <n>', 'override the number of seeds', intArg('--seeds', 1))
    .option('--max-runs <n>', 'stop after this many runs (re-run the same command to continue)', intArg('--max-runs', 1))
    .option('--report', 'also write report.md and report.html into the output folder')
    .option('--log-scale', 'log scale for the cost bars in the report')
    .option('--json', 'print a JSON summary instead of text')
    .addHelpText('after', '\nExamples:\n  fintune study studies/quick.yaml --quick --report\n  fintune study studies/mql5-reproduction.yaml --out runs/mql5 --report\n')
    .action(async (file: string, o: StudyCliOptions) => {
      let config;
      try {
        config = readStudyConfig(file, { quick: o.quick, seeds: o.seeds });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      const out = path.resolve(o.out ?? path.join('runs', `study-${config.name}`));
      const res = await runStudy(config, { out, maxRuns: o.maxRuns, log: o.json ? () => {} : undefined });
      let report: string | null = null;
      if (o.report && !res.interrupted) report = (await writeReport(res.results, out, { logCost: o.logScale })).html;
      if (o.json) {
        printJson({ results: res.resultsFile, report, executed: res.executed, skipped: res.skipped, interrupted: res.interrupted, failures: res.results.failures });
      } else {
        process.stdout.write(
          `study ${config.name}: ${res.executed.length} run(s) executed, ${res.skipped.length} skipped as finished${res.interrupted ? ' — stopped early (--max-runs); run again to continue' : ''}\n` +
            `results: ${res.resultsFile}\n` +
            (report ? `report: ${report}\n` : ''),
        );
      }
      if (res.results.failures.length) process.exitCode = 1;
    });
}
