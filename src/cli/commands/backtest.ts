/**
 * `fintune backtest`: trade a forecasts file (fintune.forecast/1, as `fintune eval` writes it) through the
 * back-test's execution model with costs, beside buy-and-hold, momentum and random signals; optionally walk
 * forward, run an equal-weight long/short portfolio of direction calls, and write a signals CSV for MetaTrader.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runBacktest, summarize, type BacktestResult, type StrategyResult } from '../../backtest/backtest.js';
import { simulate, type CostModel } from '../../backtest/engine.js';
import { alignForecasts, directionForecasts, groupForecasts, readForecastFile, type LinedForecast } from '../../backtest/forecasts.js';
import { reportEntry, writeReportSection, writeSignalsCsv, type PositionPath, type ReportEntry } from '../../backtest/output.js';
import { portfolioBacktest, portfolioBenchmarks, type PortfolioBenchmarks, type PortfolioResult } from '../../backtest/portfolio.js';
import { gapsAfter, instrumentFromFile, loadPrices, pipSizeFor, sliceSeries, type PriceSeries } from '../../backtest/prices.js';
import { THRESHOLD_UNITS, type SignalRule, type ThresholdUnits } from '../../backtest/signals.js';
import { momentumPredictions } from '../../backtest/signals.js';
import { OBJECTIVES, walkForward, type Objective, type WalkForwardResult } from '../../backtest/walkforward.js';
import { formatTime } from '../../data/time.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { floatArg, intArg, printJson, UsageError } from '../util.js';

interface BacktestOpts {
  forecasts: string;
  prices?: string[];
  pricesDir?: string;
  instrument?: string;
  method?: string;
  adjClose?: boolean;
  threshold: number;
  units: string;
  pipSize?: number;
  volLookback: number;
  minConfidence?: number;
  horizon?: number;
  every?: number;
  sizing: string;
  size: number;
  targetVol: number;
  maxLeverage: number;
  spreadPips: number;
  spreadBps: number;
  commissionBps: number;
  slippagePips: number;
  slippageBps: number;
  tickerCost: string[];
  flatOverGaps?: boolean;
  barsPerYear?: number;
  random: number;
  seed: number;
  momentumLookback?: number;
  walkForward?: boolean;
  trainBars?: number;
  testBars?: number;
  thresholds?: string;
  objective: string;
  refit?: boolean;
  portfolio?: boolean;
  alignTolerance: number;
  json?: boolean;
  signalsOut?: string;
  equityOut?: string;
  reportOut?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Default walk-forward grids by threshold unit (ties keep the first, i.e. the lowest threshold that does as well). */
const DEFAULT_GRID: Record<ThresholdUnits, number[] | null> = {
  bps: [0, 2, 5, 10, 20],
  pips: [0, 1, 2, 5, 10],
  vol: [0, 0.25, 0.5, 1],
  price: null,
};

function costsFor(o: BacktestOpts, instrument: string): CostModel {
  return {
    spreadPips: o.spreadPips,
    spreadBps: o.spreadBps,
    commissionBps: o.commissionBps,
    slippagePips: o.slippagePips,
    slippageBps: o.slippageBps,
    pipSize: o.pipSize ?? pipSizeFor(instrument),
  };
}

/** `--ticker-cost AAPL=5` → AAPL pays 5 bp a side instead of the general costs. */
function tickerCosts(list: string[]): Record<string, CostModel> {
  const out: Record<string, CostModel> = {};
  for (const item of list) {
    const m = /^([^=]+)=([0-9.]+)$/.exec(item);
    if (!m || !Number.isFinite(Number(m[2]))) throw new UsageError(`--ticker-cost must look like TICKER=BPS (cost per side in basis points), got "${item}"`);
    out[m[1]!] = { commissionBps: Number(m[2]) };
  }
  return out;
}

function ruleFrom(o: BacktestOpts, horizon: number, instrument: string): SignalRule {
  if (!THRESHOLD_UNITS.includes(o.units as ThresholdUnits)) throw new UsageError(`--units must be one of ${THRESHOLD_UNITS.join(', ')}, got "${o.units}"`);
  if (o.sizing !== 'fixed' && o.sizing !== 'vol-target') throw new UsageError(`--sizing must be fixed or vol-target, got "${o.sizing}"`);
  return {
    threshold: o.threshold,
    units: o.units as ThresholdUnits,
    pipSize: o.pipSize ?? pipSizeFor(instrument),
    volLookback: o.volLookback,
    minConfidence: o.minConfidence,
    horizon,
    every: o.every,
    sizing: o.sizing === 'fixed' ? { kind: 'fixed', size: o.size } : { kind: 'vol-target', annualVol: o.targetVol, maxLeverage: o.maxLeverage },
  };
}

/** Prices by instrument: the given files (named after the file, or --instrument) or DIR/<instrument>.* on demand. */
async function loadAllPrices(o: BacktestOpts, items: readonly LinedForecast[]): Promise<Map<string, PriceSeries>> {
  const field = o.adjClose ? 'adjClose' : 'close';
  const out = new Map<string, PriceSeries>();
  const files = o.prices ?? [];
  if (files.length === 0 && !o.pricesDir) throw new UsageError('give --prices FILE (one per instrument) or --prices-dir DIR');
  if (o.instrument && files.length !== 1) throw new UsageError('--instrument names the one --prices file; with several files each is named after its file');
  for (const f of files) {
    const s = await loadPrices(f, { instrument: o.instrument ?? instrumentFromFile(f), field });
    out.set(s.instrument, s);
  }
  if (o.pricesDir) {
    const available = fs.readdirSync(o.pricesDir);
    for (const { record, line } of items) {
      if (out.has(record.instrument)) continue;
      const hit = available.find((n) => n.replace(/\.[^.]+$/, '') === record.instrument);
      if (!hit) throw new UsageError(`${o.forecasts}:${line}: instrument ${record.instrument} has no price file in ${o.pricesDir}`);
      out.set(record.instrument, await loadPrices(path.join(o.pricesDir, hit), { instrument: record.instrument, field }));
    }
  }
  for (const { record, line } of items) {
    if (!out.has(record.instrument)) {
      throw new UsageError(`${o.forecasts}:${line}: instrument ${record.instrument} is not among the prices (${[...out.keys()].join(', ')}); name the file after it, pass --instrument, or use --prices-dir`);
    }
  }
  return out;
}

const fmt = (v: number | null, digits = 3): string => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);

const HEAD = ['strategy', 'total', 'annual', 'vol', 'Sharpe', 'Sortino', 'maxDD', 'DD bars', 'Calmar', 'hit', 'PF', 'turnover', 'exposure', 'trades'];
const WIDTH = [16, 10, 10, 9, 8, 8, 9, 8, 8, 8, 7, 9, 9, 7];

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(WIDTH[i]!) : c.padStart(WIDTH[i]!))).join('') + '\n';
}

function metricsRow(name: string, m: StrategyResult): string {
  return row([name, pct(m.totalReturn), pct(m.annualizedReturn), pct(m.volatility), fmt(m.sharpe, 2), fmt(m.sortino, 2), pct(m.maxDrawdown), String(m.maxDrawdownBars), fmt(m.calmar, 2), pct(m.hitRate), fmt(m.profitFactor, 2), fmt(m.turnover, 1), pct(m.exposure), String(m.trades)]);
}

interface RunOut {
  method: string;
  instrument: string;
  annualization: { inferred: number | null; used: number };
  forecasts: number;
  parseFailures: number;
  horizon: number;
  span: { from: string; to: string; bars: number };
  signals: { long: number; short: number; flat: number };
  strategies: Record<string, StrategyResult>;
  random?: BacktestResult['random'];
  walkForward?: { objective: Objective; blocks: { testFrom: string; testTo: string; chosen: Partial<SignalRule>; trainObjective: number | null; testReturn: number }[] };
}

export function register(program: Command): void {
  program
    .command('backtest')
    .description('Trade forecasts with costs and no look-ahead, beside buy-and-hold, momentum and random signals')
    .requiredOption('--forecasts <file>', 'forecasts JSONL (fintune.forecast/1), or the --out folder of fintune eval holding forecasts.jsonl')
    .option('--prices <file>', 'OHLCV price file; repeat for several instruments (each named after its file)', collect)
    .option('--prices-dir <dir>', 'folder of price files named <instrument>.csv (StockNet), loaded as the forecasts need them')
    .option('--instrument <name>', "the one --prices file's instrument (default: its file name without extension)")
    .option('--method <name>', 'back-test only this method of the file (default: every method, each on its own)')
    .option('--adj-close', 'use Adj Close (stocks: splits and dividends are not price moves)')
    .option('--threshold <x>', 'trade only when |predicted move| exceeds this, in --units', floatArg('--threshold', 0), 0)
    .option('--units <u>', `threshold units: ${THRESHOLD_UNITS.join(', ')} (vol = recent bar volatility × √horizon)`, 'bps')
    .option('--pip-size <x>', 'price units per pip (default 0.01 for JPY pairs, else 0.0001)', floatArg('--pip-size', 0))
    .option('--vol-lookback <n>', 'bars of returns in the recent volatility', intArg('--vol-lookback', 2), 20)
    .option('--min-confidence <p>', 'skip forecasts whose sampling agreement / probability is below p', floatArg('--min-confidence', 0, 1))
    .option('--horizon <n>', 'bars to hold each position (default: the forecasts\' horizon)', intArg('--horizon', 1))
    .option('--every <k>', 'act on a forecast only every k bars (default: the horizon)', intArg('--every', 1))
    .option('--sizing <s>', 'fixed or vol-target', 'fixed')
    .option('--size <x>', 'fixed position size, fraction of equity', floatArg('--size', 0), 1)
    .option('--target-vol <x>', 'vol-target: annual volatility to aim for', floatArg('--target-vol', 0), 0.1)
    .option('--max-leverage <x>', 'vol-target: largest size', floatArg('--max-leverage', 0), 3)
    .option('--spread-pips <x>', 'bid-ask spread in pips (each side pays half)', floatArg('--spread-pips', 0), 0)
    .option('--spread-bps <x>', 'bid-ask spread in basis points (each side pays half)', floatArg('--spread-bps', 0), 0)
    .option('--commission-bps <x>', 'commission per side, basis points of notional', floatArg('--commission-bps', 0), 0)
    .option('--slippage-pips <x>', 'adverse fill per side, pips', floatArg('--slippage-pips', 0), 0)
    .option('--slippage-bps <x>', 'adverse fill per side, basis points', floatArg('--slippage-bps', 0), 0)
    .option('--ticker-cost <t=bps>', 'portfolio: cost per side for one ticker (repeat)', collect, [])
    .option('--flat-over-gaps', 'close positions before weekends and other gaps instead of taking the gap')
    .option('--bars-per-year <n>', 'annualize with this instead of the value inferred from the timestamps', floatArg('--bars-per-year', 0))
    .option('--random <n>', 'random-signal draws for the chance distribution', intArg('--random', 0), 1000)
    .option('--seed <n>', 'seed of the random signals', intArg('--seed', 0), 0)
    .option('--momentum-lookback <n>', 'bars of past move the momentum benchmark extrapolates (default: horizon)', intArg('--momentum-lookback', 1))
    .option('--walk-forward', 're-tune the threshold on a rolling window, trade the next block, stitch one out-of-sample run')
    .option('--train-bars <n>', 'walk-forward tuning window (default: half a year of bars)', intArg('--train-bars', 2))
    .option('--test-bars <n>', 'walk-forward block traded with each choice (default: a month of bars)', intArg('--test-bars', 1))
    .option('--thresholds <list>', 'walk-forward candidate thresholds, comma-separated, in --units')
    .option('--objective <o>', `walk-forward objective: ${OBJECTIVES.join(', ')}`, 'sharpe')
    .option('--refit', 'walk-forward: re-fine-tune the model per block (needs a trainer hook; not available from the CLI yet)')
    .option('--portfolio', 'treat the forecasts as direction calls across instruments: one equal-weight long/short portfolio')
    .option('--align-tolerance <x>', 'relative tolerance between a forecast\'s last known value and the bar close', floatArg('--align-tolerance', 0), 1e-6)
    .option('--json', 'print the results as one JSON object')
    .option('--signals-out <csv>', 'write time,instrument,signal,size rows (MetaTrader StringToTime format) for one method')
    .option('--equity-out <csv>', 'write the equity curves (model and benchmarks) as CSV')
    .option('--report-out <json>', 'write equity curves and headline figures for `fintune report --backtest`')
    .addHelpText(
      'after',
      `
Examples:
  $ fintune eval --model runs/lora/final --data ../shared/data/forex/EURUSD_H4.csv --split-json data/eurusd/split.json --out runs/lora/eval
  $ fintune backtest --forecasts runs/lora/eval/forecasts.jsonl --prices ../shared/data/forex/EURUSD_H4.csv \\
      --threshold 5 --units bps --spread-pips 1 --commission-bps 0.3
  $ fintune backtest --forecasts f.jsonl --prices ../shared/data/forex/EURUSD_H4.csv --units vol --threshold 0.5 \\
      --sizing vol-target --target-vol 0.1 --flat-over-gaps --signals-out signals.csv
  $ fintune backtest --forecasts f.jsonl --prices ../shared/data/forex/EURUSD_H4.csv --walk-forward \\
      --thresholds 0,2,5,10 --train-bars 1000 --test-bars 250 --objective sharpe --json
  $ fintune backtest --forecasts stocknet.jsonl --prices-dir ../shared/data/stocknet/price --portfolio --adj-close \\
      --spread-bps 2 --ticker-cost AAPL=1

A signal decided at a bar's close trades at the next bar's open; positions are closed at the last close.
Bars per year are inferred from the timestamps (both the inferred and the used value are printed).
Every figure is defined in docs/backtest.md.`,
    )
    .action(async (o: BacktestOpts) => {
      if (o.refit && !o.walkForward) throw new UsageError('--refit only applies with --walk-forward');
      if (o.refit) {
        throw new UsageError(
          're-fine-tuning the model per block is not configured: the command line has no trainer hook yet; call walkForward({ refit }) from code, or drop --refit to re-tune only the signal parameters',
        );
      }
      if (!OBJECTIVES.includes(o.objective as Objective)) throw new UsageError(`--objective must be one of ${OBJECTIVES.join(', ')}, got "${o.objective}"`);
      if (o.portfolio && o.walkForward) throw new UsageError('--portfolio and --walk-forward cannot be combined yet');
      // A run folder (`fintune eval --out DIR`) stands for the forecasts.jsonl inside it.
      if (fs.existsSync(o.forecasts) && fs.statSync(o.forecasts).isDirectory()) {
        const inside = path.join(o.forecasts, 'forecasts.jsonl');
        if (!fs.existsSync(inside)) throw new UsageError(`--forecasts ${o.forecasts}: a folder without forecasts.jsonl (give the file, or the --out folder of fintune eval)`);
        o.forecasts = inside;
      }
      let items = await readForecastFile(o.forecasts);
      const groups = groupForecasts(items);
      if (o.method) {
        const keys = [...groups.keys()].filter((k) => k === o.method || k.split('#')[0] === o.method);
        if (keys.length === 0) throw new UsageError(`--method ${o.method}: not in ${o.forecasts} (methods: ${[...groups.keys()].join(', ')})`);
        for (const k of [...groups.keys()]) if (!keys.includes(k)) groups.delete(k);
        items = items.filter((it) => groups.has(it.record.seed === null ? it.record.method : `${it.record.method}#${it.record.seed}`));
      }
      if (o.signalsOut && groups.size > 1) {
        throw new UsageError(`--signals-out writes one method's signals; pick one with --method (the file has ${[...groups.keys()].join(', ')})`);
      }
      const prices = await loadAllPrices(o, items);
      const runs: RunOut[] = [];
      const paths: PositionPath[] = [];
      const curves: { name: string; time: ArrayLike<number>; equity: ArrayLike<number> }[] = [];
      const portfolios: { method: string; result: PortfolioResult; bench: PortfolioBenchmarks }[] = [];
      const entries: ReportEntry[] = [];
      // Benchmarks enter the report once per instrument (every method trades the same bars of it).
      const benchmarked = new Set<string>();
      const several = new Set(items.map((it) => it.record.instrument)).size > 1;
      const label = (name: string, instrument: string) => (several ? `${name} ${instrument}` : name);

      for (const [method, byInstrument] of groups) {
        if (o.portfolio) {
          const all = [...byInstrument.values()].flat();
          const horizon = o.horizon ?? all[0]!.record.true.length;
          if (o.threshold > 0 && o.units !== 'bps') throw new UsageError('--portfolio takes its --threshold in bps (--units bps)');
          const calls = directionForecasts(o.forecasts, all, { thresholdBps: o.threshold });
          const pcfg = {
            horizon,
            minConfidence: o.minConfidence,
            costs: tickerCosts(o.tickerCost),
            defaultCosts: { spreadBps: o.spreadBps, commissionBps: o.commissionBps, slippageBps: o.slippageBps },
            flatOverGaps: o.flatOverGaps,
            barsPerYear: o.barsPerYear,
            alignTolerance: o.alignTolerance,
          };
          const result = portfolioBacktest(prices, calls, pcfg);
          const bench = portfolioBenchmarks(prices, calls, pcfg, result.metrics.sharpe, { draws: o.random, seed: o.seed, lookback: o.momentumLookback });
          portfolios.push({ method, result, bench });
          curves.push({ name: `${method}:portfolio`, time: result.time, equity: result.equity });
          entries.push(reportEntry(method, result.metrics, result.time, result.equity));
          if (!benchmarked.has('portfolio')) {
            benchmarked.add('portfolio');
            entries.push(reportEntry('long-all', bench.longAll.metrics, bench.longAll.time, bench.longAll.equity));
            entries.push(reportEntry('momentum', bench.momentum.metrics, bench.momentum.time, bench.momentum.equity));
          }
          curves.push({ name: `${method}:portfolio:long-all`, time: bench.longAll.time, equity: bench.longAll.equity });
          curves.push({ name: `${method}:portfolio:momentum`, time: bench.momentum.time, equity: bench.momentum.equity });
          continue;
        }
        for (const [instrument, list] of byInstrument) {
          const series = prices.get(instrument)!;
          const aligned = alignForecasts(o.forecasts, list, series, { tolerance: o.alignTolerance });
          const horizon = o.horizon ?? aligned.horizon;
          const rule = ruleFrom(o, horizon, instrument);
          const costs = costsFor(o, instrument);
          const base = { method, instrument, forecasts: list.length, parseFailures: aligned.parseFailures, horizon };
          if (o.walkForward) {
            const grid = o.thresholds ? o.thresholds.split(',').map((x) => Number(x.trim())) : DEFAULT_GRID[rule.units];
            if (!grid || grid.some((x) => !(x >= 0))) throw new UsageError(`--thresholds must be comma-separated numbers >= 0${grid ? '' : ' (required with --units price)'}, got "${o.thresholds ?? ''}"`);
            const probe = runBacktest(series, aligned.predictions, { rule, costs, barsPerYear: o.barsPerYear, randomDraws: 0 });
            const perYear = probe.annualization.used;
            const walk = {
              base: rule,
              trainBars: o.trainBars ?? Math.round(perYear / 2),
              testBars: o.testBars ?? Math.round(perYear / 12),
              objective: o.objective as Objective,
              costs,
              flatOverGaps: o.flatOverGaps,
              barsPerYear: o.barsPerYear,
            };
            const wf = await walkForward(series, aligned.predictions, { ...walk, candidates: grid.map((threshold) => ({ threshold })) });
            runs.push(walkOut(base, wf, series, costs, o.flatOverGaps));
            curves.push({ name: `${method}:${instrument}:walk-forward`, time: wf.time, equity: wf.equity });
            entries.push(reportEntry(label(`${method} (walk-forward)`, instrument), wf.metrics, wf.time, wf.equity));
            if (!benchmarked.has(instrument)) {
              // The momentum benchmark is walked forward too: its lookback and threshold re-tuned per block on the
              // same windows, trading the same bars as the model, so the comparison stays fair.
              benchmarked.add(instrument);
              const bars = aligned.predictions.map((p) => p.bar);
              const lookbacks = [...new Set([Math.max(1, Math.round(horizon / 2)), horizon, 2 * horizon, 4 * horizon])];
              const mwf = await walkForward(series, aligned.predictions, {
                ...walk,
                candidates: lookbacks.flatMap((lb) => {
                  const predictions = momentumPredictions(series, bars, lb);
                  return grid.map((threshold) => ({ threshold, predictions, label: `lookback ${lb}` }));
                }),
              });
              runs.push(walkOut({ ...base, method: 'momentum' }, mwf, series, costs, o.flatOverGaps));
              curves.push({ name: `momentum:${instrument}:walk-forward`, time: mwf.time, equity: mwf.equity });
              entries.push(reportEntry(label('momentum (walk-forward)', instrument), mwf.metrics, mwf.time, mwf.equity));
            }
            continue;
          }
          const r = runBacktest(series, aligned.predictions, {
            rule,
            costs,
            flatOverGaps: o.flatOverGaps,
            barsPerYear: o.barsPerYear,
            randomDraws: o.random,
            seed: o.seed,
            momentumLookback: o.momentumLookback,
          });
          const count = (d: number) => r.signals.filter((s) => s.direction === d).length;
          runs.push({
            ...base,
            annualization: r.annualization,
            span: { from: formatTime(r.time[0]!), to: formatTime(r.time[r.time.length - 1]!), bars: r.time.length },
            signals: { long: count(1), short: count(-1), flat: count(0) },
            strategies: { model: r.model.metrics, 'buy-and-hold': r.buyAndHold.metrics, momentum: r.momentum.metrics },
            random: r.random,
          });
          paths.push({ instrument, time: r.time, held: r.model.sim.held });
          for (const s of [r.model, r.buyAndHold, r.momentum]) curves.push({ name: `${method}:${instrument}:${s.name}`, time: r.time, equity: s.sim.equity });
          entries.push(reportEntry(label(method, instrument), r.model.metrics, r.time, r.model.sim.equity));
          if (!benchmarked.has(instrument)) {
            benchmarked.add(instrument);
            for (const s of [r.buyAndHold, r.momentum]) entries.push(reportEntry(label(s.name, instrument), s.metrics, r.time, s.sim.equity));
          }
        }
      }

      if (o.signalsOut) {
        const n = writeSignalsCsv(o.signalsOut, paths);
        if (!o.json) process.stdout.write(`wrote ${n} signal rows to ${o.signalsOut}\n`);
      }
      if (o.equityOut) writeEquityCsv(o.equityOut, curves);
      if (o.reportOut) writeReportSection(o.reportOut, entries);
      if (o.json) {
        printJson({
          forecasts: o.forecasts,
          costs: costsFor(o, [...prices.keys()][0] ?? ''),
          flatOverGaps: !!o.flatOverGaps,
          runs,
          portfolios: portfolios.map(({ method, result: p, bench }) => ({
            method,
            annualization: p.annualization,
            metrics: p.metrics,
            strategies: { model: p.metrics, 'long-all': bench.longAll.metrics, momentum: bench.momentum.metrics },
            random: bench.random,
            sleeves: p.sleeves,
            dates: p.dates.length,
          })),
        });
        return;
      }
      for (const r of runs) printRun(r);
      for (const { method, result: p, bench } of portfolios) {
        process.stdout.write(`\n${method}: equal-weight long/short portfolio of ${p.sleeves.length} tickers over ${p.dates.length} signal dates\n`);
        process.stdout.write(`bars per year: inferred ${fmt(p.annualization.inferred, 1)}, used ${fmt(p.annualization.used, 1)}\n`);
        process.stdout.write(row(HEAD) + metricsRow('portfolio', p.metrics) + metricsRow('long-all', bench.longAll.metrics) + metricsRow('momentum', bench.momentum.metrics));
        printChance(bench.random);
      }
    });
}

function walkOut(base: Pick<RunOut, 'method' | 'instrument' | 'forecasts' | 'parseFailures' | 'horizon'>, wf: WalkForwardResult, series: PriceSeries, costs: CostModel, flatOverGaps?: boolean): RunOut {
  // Buy-and-hold over exactly the out-of-sample span, for scale.
  const span = sliceSeries(series, wf.start, series.time.length);
  const bh = simulate(span, new Float64Array(span.time.length).fill(1), { costs, flatOverGaps, gaps: gapsAfter(series.time).subarray(wf.start) });
  const count = (d: number) => wf.signals.filter((s) => s.direction === d).length;
  return {
    ...base,
    annualization: wf.annualization,
    span: { from: formatTime(wf.time[0]!), to: formatTime(wf.time[wf.time.length - 1]!), bars: wf.time.length },
    signals: { long: count(1), short: count(-1), flat: count(0) },
    strategies: { 'walk-forward': wf.metrics, 'buy-and-hold': summarize(bh, wf.annualization.used) },
    walkForward: {
      objective: wf.objective,
      blocks: wf.blocks.map((b) => ({
        testFrom: formatTime(series.time[b.testStart]!),
        testTo: formatTime(series.time[b.testEnd - 1]!),
        chosen: b.chosen,
        trainObjective: b.trainObjective,
        testReturn: b.testReturn,
      })),
    },
  };
}

function printRun(r: RunOut): void {
  const w = process.stdout;
  w.write(`\n${r.method} on ${r.instrument}: ${r.forecasts} forecasts (horizon ${r.horizon}, ${r.parseFailures} parse failures traded flat)\n`);
  w.write(`span ${r.span.from} .. ${r.span.to} (${r.span.bars} bars); signals ${r.signals.long} long, ${r.signals.short} short, ${r.signals.flat} flat\n`);
  w.write(`bars per year: inferred ${fmt(r.annualization.inferred, 1)}, used ${fmt(r.annualization.used, 1)}\n`);
  w.write(row(HEAD));
  for (const [name, m] of Object.entries(r.strategies)) w.write(metricsRow(name, m));
  if (r.random) printChance(r.random);
  if (r.walkForward) {
    w.write(`walk-forward by ${r.walkForward.objective}: ${r.walkForward.blocks.length} blocks\n`);
    for (const b of r.walkForward.blocks) {
      w.write(`  ${b.testFrom} .. ${b.testTo}  threshold ${b.chosen.threshold}  train ${r.walkForward.objective} ${fmt(b.trainObjective, 2)}  test return ${pct(b.testReturn)}\n`);
    }
  }
}

function printChance(r: BacktestResult['random']): void {
  if (!r.sharpe) return;
  const s = r.sharpe;
  process.stdout.write(`random signals (${r.draws} draws, seed ${r.seed}): Sharpe 5% ${fmt(s.p05, 2)}, median ${fmt(s.p50, 2)}, 95% ${fmt(s.p95, 2)}; model at percentile ${fmt(r.modelSharpePercentile, 1)}\n`);
}

function writeEquityCsv(file: string, curves: readonly { name: string; time: ArrayLike<number>; equity: ArrayLike<number> }[]): void {
  const lines = ['curve,time,equity'];
  for (const c of curves) for (let i = 0; i < c.equity.length; i++) lines.push(`${c.name},${formatTime(c.time[i]!)},${c.equity[i]!}`);
  writeFileAtomic(file, lines.join('\n') + '\n');
}
