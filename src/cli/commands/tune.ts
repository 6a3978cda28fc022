/**
 * `fintune tune CONFIG --method NAME`: grid, random or genetic search over the learning rate, method
 * hyper-parameters and the window, scored on the validation part of one or several data sets (instruments ×
 * periods; never on test); reports how many trials and training runs ran, then the best point on each test part.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { checkTuneData, ConfigError, readStudyConfig, resolvePeriods, resolveTuneInstrument, type PeriodsSpec } from '../../study/config.js';
import { tune, type Objective, type Space, type Strategy, type Trial } from '../../study/tune.js';
import { intArg, printJson, UsageError } from '../util.js';

export function register(program: Command): void {
  program
    .command('tune')
    .description('Search hyper-parameters and the window of one method of a study config on validation data (never on test)')
    .argument('<config>', 'study config (YAML or JSON)')
    .requiredOption('--method <name>', 'the method (as named in the config) to tune')
    .requiredOption('--space <json>', 'candidates per parameter, e.g. \'{"lr":[1e-4,3e-4,1e-3],"params.r":[4,8]}\'')
    .addOption(new Option('--strategy <s>', 'search strategy').choices(['grid', 'random', 'genetic']).default('random'))
    .addOption(new Option('--objective <o>', 'val-loss; val-skill (forecast the validation windows; needed to search data.known / data.horizon); or val-backtest (trade those forecasts with costs: Sharpe)').choices(['val-loss', 'val-skill', 'val-backtest']).default('val-loss'))
    .option('--trials <n>', 'trials for random and genetic search', intArg('--trials', 1), 8)
    .option('--seed <n>', 'seed of the search itself', intArg('--seed', 0), 0)
    .option('--dataset <file>', 'an OHLCV file to score every trial on, with the config\'s data settings (repeat for several instruments; replaces tune.datasets; the instrument is named after the file)', collect, [])
    .option('--periods <n|json>', 'cut each data set into N consecutive periods, each with its own train/validation/test split, or a JSON list of {start, end} dates (replaces tune.periods)')
    .option('--no-final-test', 'skip evaluating the best point on each data set\'s test part')
    .option('--out <dir>', 'output folder (default: runs/tune-<name>-<method>)')
    .option('--json', 'print the tune results as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  fintune tune studies/quick.yaml --method full --strategy genetic --trials 8 --space \'{"lr":[3e-5,1e-4,3e-4,1e-3]}\'\n' +
        '  fintune tune studies/tune-fx.yaml --method full --strategy grid --objective val-skill --space \'{"lr":[1e-3,1e-2],"data.known":[8,16]}\'\n' +
        '  fintune tune studies/quick.yaml --method full --dataset ../shared/data/stocknet/price/AAPL.csv --dataset ../shared/data/stocknet/price/MSFT.csv --periods 2 --space \'{"lr":[1e-4,1e-3]}\'\n',
    )
    .action(async (file: string, o: { method: string; space: string; strategy: Strategy; objective: Objective; trials: number; seed: number; dataset: string[]; periods?: string; finalTest: boolean; out?: string; json?: boolean }) => {
      let space: Space;
      try {
        space = JSON.parse(o.space) as Space;
      } catch (err) {
        throw new UsageError(`--space must be JSON (${(err as Error).message})`);
      }
      let config;
      try {
        config = readStudyConfig(file, { quick: true });
        // Flags replace the config's tune section key by key: --dataset the instruments, --periods the periods.
        if (o.dataset.length || o.periods !== undefined) {
          const instruments = o.dataset.length ? o.dataset.map((f, i) => resolveTuneInstrument(config!.data, { file: f }, process.cwd(), `--dataset[${i}]`)) : (config.tune?.instruments ?? [config.data]);
          const periods: PeriodsSpec = o.periods === undefined ? (config.tune?.periods ?? 1) : resolvePeriods(parsePeriods(o.periods), '--periods');
          checkTuneData(instruments, periods, '--dataset');
          config = { ...config, tune: { instruments, periods } };
        }
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      const out = path.resolve(o.out ?? path.join('runs', `tune-${config.name}-${o.method}`));
      const r = await tune(config, { out, method: o.method, strategy: o.strategy, trials: o.trials, space, seed: o.seed, objective: o.objective, finalTest: o.finalTest, log: o.json ? () => {} : undefined });
      if (o.json) printJson(r);
      else {
        const unit = o.objective === 'val-skill' ? 'skill' : o.objective === 'val-backtest' ? 'Sharpe' : 'loss';
        const show = (t: Trial): string =>
          r.datasets.length === 1
            ? `${unit} ${t.aggregate.mean?.toFixed(4) ?? (o.objective === 'val-backtest' ? 'no trades' : 'failed')}`
            : `mean ${unit} ${t.aggregate.mean?.toFixed(4) ?? '–'} (worst ${t.aggregate.worst?.toFixed(4) ?? '–'} on ${t.aggregate.worstDataset ?? '–'}; ${t.perDataset.map((p) => `${p.dataset} ${p.objective?.toFixed(4) ?? '–'}`).join(', ')})`;
        process.stdout.write(`tune ${o.method} (${o.strategy}): ${r.trialsRun} trial(s) × ${r.datasets.length} data set(s) = ${r.trainingRuns} training run(s) (${r.runsExecuted} run now, ${r.runsSkipped} already finished); objective: ${r.objective}, ranked by the ${r.aggregate}\n`);
        for (const t of r.trials) process.stdout.write(`  #${t.index} ${JSON.stringify(t.values)} → ${show(t)}\n`);
        if (r.best) process.stdout.write(`best: ${JSON.stringify(r.best.values)} (${show(r.best)})\n`);
        for (const f of r.finalTest) {
          const cells = f.rows.map((x) => `${x.kind === 'model' ? 'model' : x.name} ${x.skill === null ? `rmse ${x.rmse.toPrecision(4)}` : `skill ${x.skill.toFixed(4)}`}`);
          process.stdout.write(`test ${f.dataset}: ${f.error ? `failed: ${f.error}` : cells.join(', ')}\n`);
        }
        for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
        process.stdout.write(`results: ${path.join(out, 'tune.json')}, ${path.join(out, 'tune.md')}\n`);
      }
    });
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `--periods 3` or `--periods '[{"start":"2019-01-01","end":"2020-01-01"}]'`. */
function parsePeriods(v: string): unknown {
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new UsageError(`--periods must be a count or JSON (${(err as Error).message})`);
  }
}
