import type { Command } from 'commander';
import { importJob } from '../../export/import.js';
import { printJson } from '../util.js';

export function register(program: Command): void {
  program
    .command('import')
    .description("Bring back an exported job's adapter or model and its forecasts/generations as a run folder")
    .requiredOption('--job <dir>', 'the job folder (with job.json and out/), or a results folder')
    .requiredOption('--out <dir>', 'run folder to create (e.g. runs/NAME-imported)')
    .option('--json', 'print what was imported as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune import --job jobs/eurusd-lora --out runs/eurusd-lora-gpu
  $ fintune serve --runs runs        # the imported run shows like any other`,
    )
    .action(async (o: { job: string; out: string; json?: boolean }) => {
      const r = await importJob(o.job, o.out);
      if (o.json) printJson(r);
      else process.stdout.write(`imported ${r.kind}${r.forecasts ? `, ${r.forecasts} forecasts` : ''}${r.generations ? `, ${r.generations} generations` : ''} into ${r.runDir}\n`);
    });
}
