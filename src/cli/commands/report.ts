/** `fintune report RESULTS.json --out DIR`: report.md and a self-contained report.html from a study's results. */
import path from 'node:path';
import type { Command } from 'commander';
import { readResults, writeReport } from '../../study/report.js';
import { printJson } from '../util.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('Write report.md and a self-contained report.html (inline SVG charts) from a study results JSON')
    .argument('<results>', 'results.json written by fintune study')
    .option('--out <dir>', 'output folder (default: the results file\'s folder)')
    .option('--log-scale', 'log scale for the training time / memory / latency bars')
    .option('--backtest <file>', 'back-test results to include (equity curves and a table per method)')
    .option('--json', 'print the written paths as JSON')
    .addHelpText('after', '\nExample:\n  fintune report runs/study-quick/results.json --out runs/study-quick --log-scale\n')
    .action(async (file: string, o: { out?: string; logScale?: boolean; backtest?: string; json?: boolean }) => {
      const out = path.resolve(o.out ?? path.dirname(file));
      const w = await writeReport(readResults(file), out, { logCost: o.logScale, backtestFile: o.backtest });
      if (o.json) printJson({ markdown: w.markdown, html: w.html, charts: w.rendered.charts.map((c) => c.id) });
      else process.stdout.write(`report: ${w.html}\nmarkdown: ${w.markdown}\n`);
    });
}
