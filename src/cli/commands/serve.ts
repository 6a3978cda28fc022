import type { Command } from 'commander';
import { startDashboard } from '../../serve/server.js';
import { forecastForRun, generateForRun } from '../../serve/models.js';
import { intArg } from '../util.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('Local dashboard: runs, live training curves, comparisons, forecasts, back-tests, reports, reviews')
    .option('--runs <dir>', 'runs folder', 'runs')
    .option('--host <host>', 'address to bind (default 127.0.0.1; anything else exposes your runs)', '127.0.0.1')
    .option('--port <n>', 'port', intArg('--port', 0, 65535), 7860)
    .addHelpText(
      'after',
      `
Examples:
  $ fintune serve                      # http://127.0.0.1:7860 over ./runs
  $ fintune serve --runs runs/demo --port 8080

State-changing requests (reviews, the prompt box, POST /api/forecast) need the per-server token printed at
start, in an X-Fintune-Token header. See docs/dashboard.md for the MetaTrader WebRequest example.`,
    )
    .action(async (o: { runs: string; host: string; port: number }) => {
      if (!['127.0.0.1', 'localhost', '::1'].includes(o.host)) {
        process.stderr.write(`warning: binding to ${o.host} makes the dashboard reachable from other machines\n`);
      }
      const d = await startDashboard({ runsDir: o.runs, host: o.host, port: o.port, generate: generateForRun, forecast: forecastForRun });
      process.stdout.write(`fintune dashboard on ${d.url} (runs: ${o.runs})\ntoken for API clients: ${d.token}\nCtrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void d.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
