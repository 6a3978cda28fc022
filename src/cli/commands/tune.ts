/**
 * `fintune tune CONFIG --method NAME`: grid, random or genetic search over the learning rate and method
 * hyper-parameters, on validation loss only (test windows are never used); reports how many trials ran.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { ConfigError, readStudyConfig } from '../../study/config.js';
import { tune, type Space, type Strategy } from '../../study/tune.js';
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
    .option('--out <dir>', 'output folder (default: runs/tune-<name>-<method>)')
    .option('--json', 'print the tune results as JSON')
    .addHelpText('after', '\nExample:\n  fintune tune studies/quick.yaml --method full --strategy genetic --trials 8 --space \'{"lr":[3e-5,1e-4,3e-4,1e-3]}\'\n')
    .action(async (file: string, o: { method: string; space: string; strategy: Strategy; objective: 'val-loss' | 'val-skill' | 'val-backtest'; trials: number; seed: number; out?: string; json?: boolean }) => {
      let space: Space;
      try {
        space = JSON.parse(o.space) as Space;
      } catch (err) {
        throw new UsageError(`--space must be JSON (${(err as Error).message})`);
      }
      let config;
      try {
        config = readStudyConfig(file, { quick: true });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      const out = path.resolve(o.out ?? path.join('runs', `tune-${config.name}-${o.method}`));
      const r = await tune(config, { out, method: o.method, strategy: o.strategy, trials: o.trials, space, seed: o.seed, objective: o.objective, log: o.json ? () => {} : undefined });
      if (o.json) printJson(r);
      else {
        const show = (t: { valLoss: number | null; valSkill: number | null; valSharpe?: number | null }): string =>
          o.objective === 'val-skill'
            ? `skill ${t.valSkill?.toFixed(4) ?? 'failed'} (loss ${t.valLoss?.toFixed(4) ?? '–'})`
            : o.objective === 'val-backtest'
              ? `Sharpe ${t.valSharpe?.toFixed(3) ?? 'no trades'} (skill ${t.valSkill?.toFixed(4) ?? '–'})`
              : `loss ${t.valLoss?.toFixed(4) ?? 'failed'}`;
        process.stdout.write(`tune ${o.method} (${o.strategy}): ${r.trialsRun} trial(s) run; objective: ${r.objective}\n`);
        for (const t of r.trials) process.stdout.write(`  #${t.index} ${JSON.stringify(t.values)} → ${show(t)}\n`);
        if (r.best) process.stdout.write(`best: ${JSON.stringify(r.best.values)} (${show(r.best)})\n`);
        process.stdout.write(`results: ${path.join(out, 'tune.json')}\n`);
      }
    });
}
