import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadOhlcv } from '../../data/loaders/ohlcv.js';
import { splitSeries, type PartName, type SplitConfig, type SplitDescription } from '../../data/splits.js';
import { evaluateForecasts } from '../../eval/evaluate.js';
import { forecastWindows } from '../../eval/price_forecast.js';
import { writeForecasts } from '../../eval/schema.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { loadModel, modelFromConfig } from '../../models/load.js';
import { loadModelWithAdapter } from '../model_loading.js';
import { readHfConfig } from '../../io/hf_config.js';
import type { CausalLM } from '../../models/common.js';
import { floatArg, intArg, printJson, UsageError } from '../util.js';

interface EvalOpts {
  model: string;
  adapter?: string;
  data: string;
  splitJson?: string;
  split: string;
  known?: number;
  horizon?: number;
  scaling?: string;
  precision?: number;
  pipSize?: number;
  fractions?: string;
  maxWindows?: number;
  samples: number;
  temperature: number;
  seed: number;
  method?: string;
  baseModel?: string;
  randomInit?: boolean;
  out?: string;
  json?: boolean;
}

/** The split to reproduce: the split.json `fintune data windows` wrote, or one described by flags. */
function splitConfig(o: EvalOpts): SplitConfig {
  if (o.splitJson) {
    const d = JSON.parse(fs.readFileSync(o.splitJson, 'utf8')) as SplitDescription;
    if (!d.config?.window) throw new UsageError(`${o.splitJson}: not a split.json written by fintune data windows`);
    const c = d.config;
    return { window: c.window, gap: c.gap, seed: d.seed, ...(c.mode === 'dates' ? { dates: c.dates } : { fractions: c.fractions }) };
  }
  let fractions: SplitConfig['fractions'];
  if (o.fractions) {
    const p = o.fractions.split(',').map(Number);
    if (p.length !== 3 || p.some((x) => !(x > 0 && x < 1))) throw new UsageError(`--fractions must be three numbers in (0, 1) like 0.7,0.15,0.15, got "${o.fractions}"`);
    fractions = { train: p[0]!, val: p[1]!, test: p[2]! };
  }
  return {
    fractions,
    window: {
      known: o.known,
      horizon: o.horizon,
      scaling: o.scaling as never,
      precision: o.precision,
      pipSize: o.pipSize,
    },
  };
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('Forecast held-out windows with a model and score them beside the naive baselines')
    .requiredOption('--model <dir>', 'model folder (config.json, weights, tokenizer.json)')
    .option('--adapter <dir>', 'PEFT adapter to apply on the model (any method; forecasts run through it)')
    .requiredOption('--data <file>', 'OHLCV price file (CSV/TSV)')
    .option('--split-json <file>', "reproduce the split and windows of `fintune data windows` (its split.json)")
    .option('--split <part>', 'part to forecast: test or val', 'test')
    .option('--known <n>', 'known bars per window', intArg('--known', 1))
    .option('--horizon <n>', 'bars to forecast', intArg('--horizon', 1))
    .option('--scaling <s>', 'raw, pips, bps, pct, logret or zscore (as trained)')
    .option('--precision <n>', 'decimals in the window text (as trained)', intArg('--precision', 0, 12))
    .option('--pip-size <x>', 'pip size for --scaling pips', floatArg('--pip-size', 0))
    .option('--fractions <a,b,c>', 'train,val,test fractions (default 0.7,0.15,0.15)')
    .option('--max-windows <n>', 'forecast only the first n windows of the part', intArg('--max-windows', 1))
    .option('--samples <k>', 'greedy (1) or K sampled forecasts scored by their median', intArg('--samples', 1), 1)
    .option('--temperature <t>', 'sampling temperature', floatArg('--temperature', 1e-6), 1)
    .option('--seed <n>', 'decoding seed', intArg('--seed', 0), 0)
    .option('--method <name>', 'name for this forecaster in the results (default: the model folder name)')
    .option('--base-model <dir>', 'also forecast with the untuned base model (same tokenizer), as a baseline')
    .option('--random-init', 'also forecast with a seeded random-init model of the same size (--seed), as a baseline')
    .option('--out <dir>', 'write forecasts.jsonl and metrics.json here')
    .option('--json', 'print the evaluation results as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune data windows ../shared/data/forex/EURUSD_H4.csv --known 24 --horizon 6 --scaling bps --precision 0 --out data/eurusd
  $ fintune eval --model runs/lora/final --data ../shared/data/forex/EURUSD_H4.csv --split-json data/eurusd/split.json --out runs/lora/eval --json

Decoding is greedy with constrained numeric decoding (the output always parses into the horizon's numbers);
--samples K draws K forecasts and scores their median. Metrics, baselines (persistence, drift, moving average,
AR by AIC) and Diebold-Mariano tests are defined in docs/eval.md.`,
    )
    .action(async (o: EvalOpts) => {
      if (o.split !== 'test' && o.split !== 'val') throw new UsageError(`--split must be test or val, got "${o.split}"`);
      const series = await loadOhlcv(o.data);
      const split = splitSeries(series, splitConfig(o));
      const cfg = split.description.config.window;
      let windows = split.windows[o.split as PartName];
      if (o.maxWindows) windows = windows.slice(0, o.maxWindows);
      const model = loadModelWithAdapter({ model: o.model, adapter: o.adapter });
      const tok = loadTokenizer(o.model);
      const instrument = path.basename(o.data).replace(/\.[^.]+$/, '');
      const method = o.method ?? path.basename(path.resolve(o.adapter ?? o.model));
      const progress = !o.json && process.stderr.isTTY;
      const decode = (m: CausalLM, name: string) =>
        forecastWindows(m, tok, series, windows, cfg, {
          run: method,
          method: name,
          seed: o.samples > 1 ? o.seed : null,
          instrument,
          samples: o.samples,
          temperature: o.temperature,
          onWindow: progress ? (d, n) => process.stderr.write(`\r${name}: forecasting ${d}/${n}`) : undefined,
        });
      const records = decode(model, method);
      // Model baselines: is the tuning worth anything over the base, and the base over an untrained net?
      if (o.baseModel) records.push(...decode(loadModel(o.baseModel), 'base-untuned'));
      if (o.randomInit) {
        const rnd = modelFromConfig(readHfConfig(path.join(o.model, 'config.json')));
        rnd.initWeights(o.seed);
        records.push(...decode(rnd, `random-init@${o.seed}`));
      }
      if (progress) process.stderr.write('\n');
      const train = split.description.parts.find((p) => p.name === 'train')!;
      const results = evaluateForecasts(records, { training: { [instrument]: Array.from(series.close.subarray(train.from, train.to)) } });
      if (o.out) {
        fs.mkdirSync(o.out, { recursive: true });
        writeForecasts(path.join(o.out, 'forecasts.jsonl'), records);
        writeFileAtomic(path.join(o.out, 'metrics.json'), JSON.stringify({ split: split.description, results }, null, 2) + '\n');
      }
      if (o.json) {
        printJson(results);
        return;
      }
      const rows = results.methods.map((m) => [m.method, m.metrics.rmse, m.skill ?? NaN, m.metrics.direction.accuracy ?? NaN, m.parse_failures] as const);
      process.stdout.write(`${records.length} windows of ${instrument} (${o.split}), horizon ${cfg.horizon}\n`);
      process.stdout.write('method'.padEnd(20) + 'RMSE'.padStart(14) + 'skill'.padStart(10) + 'dir.acc'.padStart(10) + 'parse fail'.padStart(12) + '\n');
      for (const [name, rmse, skill, dir, pf] of rows) {
        process.stdout.write(name.padEnd(20) + rmse.toPrecision(6).padStart(14) + skill.toFixed(3).padStart(10) + (Number.isFinite(dir) ? dir.toFixed(3) : '–').padStart(10) + String(pf).padStart(12) + '\n');
      }
    });
}
