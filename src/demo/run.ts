/**
 * `fintune demo`: the whole toolkit end to end on the shipped data, in one command.
 *
 *   data      EURUSD 4-hour bars split 70/15/15 in time; AUDUSD cut before EURUSD's validation period
 *   pretrain  a small price GPT from scratch on AUDUSD windows
 *   finetune  full, LoRA, QLoRA, Houlsby adapter and prefix tuning on EURUSD, one run folder each
 *   evaluate  every model's constrained forecasts of the same non-overlapping test windows, beside the baselines
 *   backtest  a long/short rule on those forecasts, with costs
 *   fingpt    LoRA on StockNet FinGPT-style prompts; generations for the dashboard's review page
 *   report    report.md + report.html in the output folder
 *
 * A method that fails (for example one not yet in this build's PEFT registry) is recorded as failed with its
 * reason and the demo goes on: the report says which methods ran.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateForecasts, type EvaluationResults } from '../eval/evaluate.js';
import { writeForecasts, type ForecastRecord } from '../eval/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { getBackend } from '../tensor/backends.js';
import { VERSION } from '../version.js';
import { backtestForecasts, priceSeriesOf, type BacktestResult } from './backtest.js';
import { demoBudget, demoMethods, STAGES, type DemoBudget, type DemoSize, type MethodPlan, type StageName } from './config.js';
import { runFingpt, type FingptResult } from './fingpt.js';
import { finetuneMethod, forecastPretrained, HELD_OUT, loadPriceData, pretrain, PRETRAIN_INSTRUMENTS, type Log, type MethodRun, type PretrainResult } from './prices.js';
import { writeDemoReport } from './report.js';

export interface DemoOptions {
  size: DemoSize;
  out: string;
  dataDir: string;
  seed: number;
  /** Subset of method names (default all five). */
  methods?: string[];
  log?: Log;
}

export interface StageTime {
  stage: StageName;
  planned: number;
  spent: number;
}

export interface DemoResult {
  schema: 'fintune.demo/1';
  size: DemoSize;
  seed: number;
  out: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpu: string; loadavg: number[]; backend: string; threads: number; node: string; fintune: string };
  data: {
    heldOut: string;
    pretrainOn: string[];
    window: { known: number; horizon: number; scaling: string; precision: number };
    parts: Array<{ name: string; first: string; last: string; bars: number; windows: number }>;
    pretrainCorpus: Array<{ instrument: string; first: string; last: string; windows: number }>;
    firstValidation: string;
    testWindows: number;
    /** Forecasts sampled per test window (their median is scored). */
    forecastSamples: number;
  };
  pretrain: Omit<PretrainResult, 'dir' | 'modelDir'> & { dir: string };
  runs: Array<Omit<MethodRun, 'records'>>;
  evaluation: EvaluationResults | null;
  backtest: BacktestResult[];
  fingpt: FingptResult | null;
  stages: StageTime[];
  verdict: string[];
  report: { markdown: string; html: string; renderer: string } | null;
}

/** Times stages and prints their start and end; the table at the end compares them with the plan. */
class StageClock {
  readonly times: StageTime[] = [];
  constructor(
    private readonly budget: DemoBudget,
    private readonly log: Log,
  ) {}
  async run<T>(stage: StageName, what: string, f: () => Promise<T> | T): Promise<T> {
    const i = STAGES.indexOf(stage) + 1;
    this.log(`[${i}/${STAGES.length}] ${stage}: ${what} (planned ~${fmtSec(this.budget.planned[stage])})`);
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      const spent = (performance.now() - t0) / 1000;
      this.times.push({ stage, planned: this.budget.planned[stage], spent });
      this.log(`    ${stage} done in ${fmtSec(spent)}`);
    }
  }
}

export function fmtSec(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** The evaluation names seeded forecasters "method@seed"; tables show the method (the seed is printed once). */
export const plainName = (m: string): string => m.replace(/@\d+$/, '');

/** A failure reason short enough for a summary line (the run folder's config.json keeps the whole message). */
export function shortReason(e: string | undefined): string {
  const m = (e ?? 'unknown error').split('\n')[0]!;
  if (m.includes('needs the PEFT registry')) return 'the PEFT registry is not in this build';
  return m.length > 100 ? m.slice(0, 99) + '…' : m;
}

/** The honest one-paragraph reading of the evaluation: who beat persistence, and whether that is significant. */
export function verdictOf(ev: EvaluationResults | null, runs: Array<Pick<MethodRun, 'name' | 'ok' | 'error'>>, bt: BacktestResult[]): string[] {
  const lines: string[] = [];
  const failed = runs.filter((r) => !r.ok);
  if (failed.length) lines.push(`Not run: ${failed.map((r) => `${r.name} (${shortReason(r.error)})`).join('; ')}.`);
  if (!ev) return [...lines, 'No model produced forecasts, so nothing was evaluated.'];
  const models = ev.methods.filter((m) => m.kind === 'model');
  const better = models.filter((m) => m.skill !== null && m.skill > 0);
  const significant = better.filter((m) => m.dm?.reject && (m.dm.mean_diff ?? 0) < 0);
  if (better.length === 0) {
    lines.push(`No method beats persistence (the last known close) on the ${ev.n_windows} test windows: every model's MSE is at least persistence's.`);
  } else {
    lines.push(
      `${better.map((m) => `${plainName(m.method)} (skill ${m.skill!.toFixed(3)})`).join(', ')} ${better.length === 1 ? 'has' : 'have'} lower MSE than persistence on ${ev.n_windows} test windows; ` +
        (significant.length
          ? `the Diebold–Mariano test (Holm-adjusted) finds the difference significant for ${significant.map((m) => plainName(m.method)).join(', ')}.`
          : 'no difference is significant under the Diebold–Mariano test with Holm adjustment, so this is indistinguishable from luck.'),
    );
  }
  const traded = bt.filter((b) => b.chancePercentile !== null);
  const hold = bt.find((b) => b.key === 'buy-and-hold');
  const lucky = traded.filter((b) => b.totalReturn > 0);
  const beyondChance = traded.filter((b) => (b.chancePercentile ?? 0) >= 95);
  lines.push(
    (lucky.length
      ? `After costs, ${lucky.map((b) => `${b.key} (${(100 * b.totalReturn).toFixed(2)} %)`).join(', ')} ended the back-test with a gain`
      : 'After costs no forecaster ended the back-test with a gain') +
      (hold ? ` (buy-and-hold: ${(100 * hold.totalReturn).toFixed(2)} %)` : '') +
      (beyondChance.length
        ? `; ${beyondChance.map((b) => b.key).join(', ')} had a Sharpe ratio above 95 % of random signals with the same long/short mix.`
        : '; no forecaster\'s Sharpe ratio was above 95 % of random signals with the same long/short mix, so none shows an edge.'),
  );
  return lines;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? ((s: string) => void process.stderr.write(s + '\n'));
  const budget = demoBudget(o.size);
  const out = path.resolve(o.out);
  const startedAt = new Date().toISOString();
  fs.mkdirSync(out, { recursive: true });
  const clock = new StageClock(budget, log);
  const backend = getBackend();
  log(`fintune demo (${o.size}): seed ${o.seed}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}, backend ${backend.name}; output in ${out}`);

  const plans: MethodPlan[] = demoMethods().filter((m) => !o.methods || o.methods.includes(m.name));
  const data = await clock.run('data', `load ${HELD_OUT}, split it in time, cut ${PRETRAIN_INSTRUMENTS.join(', ')} before its validation period`, () => loadPriceData(o.dataDir, out, budget, log));
  log(`  windows: ${data.cfg.known} known → ${data.cfg.horizon} predicted bars, ${data.cfg.scaling}, precision ${data.cfg.precision}; fine-tune on ${data.finetuneTrain.length}, validate on ${data.finetuneVal.length}, test on ${data.test.length} non-overlapping windows`);

  const pre = await clock.run('pretrain', `a price GPT from scratch on ${PRETRAIN_INSTRUMENTS.join(', ')}`, () => pretrain(data, out, budget, o.seed, log));

  const runs: MethodRun[] = [];
  await clock.run('finetune', `${plans.map((p) => p.name).join(', ')} on ${HELD_OUT}, each from the same pre-trained weights`, async () => {
    for (const plan of plans) {
      let r: MethodRun;
      try {
        r = await finetuneMethod(plan, pre, data, out, budget, o.seed, log);
      } catch (err) {
        // A method that breaks while training (a non-finite loss, a bug in an adapter) costs that method only.
        r = { name: plan.name, method: plan.method, dir: path.join(out, plan.name), ok: false, error: (err as Error).message, records: [] };
      }
      if (!r.ok) log(`  ${plan.name}: not run — ${shortReason(r.error)}`);
      else log(`  ${plan.name}: val loss ${r.valLoss?.toFixed(3)}, ${r.records.length} test forecasts (${r.records.filter((x) => x.parse_ok).length} parsed)`);
      runs.push(r);
    }
  });

  const { evaluation, all } = await clock.run('evaluate', 'the pre-trained model and every fine-tuned one on the same test windows, beside the baselines', () => {
    const preRecords = forecastPretrained(pre, data, o.seed);
    writeForecasts(`${pre.dir}/forecasts.jsonl`, preRecords);
    for (const r of runs) if (r.ok) writeForecasts(path.join(r.dir, 'forecasts.jsonl'), r.records);
    const all: Array<{ key: string; dir: string; records: ForecastRecord[] }> = [{ key: 'pretrained (no fine-tuning)', dir: pre.dir, records: preRecords }, ...runs.filter((r) => r.ok).map((r) => ({ key: r.name, dir: r.dir, records: r.records }))];
    const records = all.flatMap((a) => a.records);
    const evaluation = records.length ? evaluateForecasts(records, { training: { [HELD_OUT]: data.trainCloses }, bootstrap: { replicates: o.size === 'tiny' ? 50 : 500, seed: o.seed } }) : null;
    if (evaluation) writeFileAtomic(path.join(out, 'evaluation.json'), JSON.stringify(evaluation, null, 1) + '\n');
    printTable(evaluation, log);
    return { evaluation, all };
  });

  const backtest = await clock.run('backtest', 'every forecaster through the back-test engine with spread and commission, beside buy-and-hold, momentum and random signals', () => {
    const series = priceSeriesOf(data.eurusd, HELD_OUT);
    const list: BacktestResult[] = [];
    let benchmarks: BacktestResult[] = [];
    for (const a of all) {
      const b = backtestForecasts(a.key, a.records, series, { seed: o.seed, randomDraws: o.size === 'tiny' ? 20 : 300 });
      // Top-level fields are this run's (the dashboard draws `equity`); `methods` is what `fintune report --backtest` reads.
      writeFileAtomic(path.join(a.dir, 'backtest.json'), JSON.stringify({ ...b.model, methods: [b.model, ...b.benchmarks] }) + '\n');
      list.push(b.model);
      benchmarks = b.benchmarks;
    }
    list.push(...benchmarks);
    writeFileAtomic(path.join(out, 'backtest.json'), JSON.stringify({ methods: list }) + '\n');
    if (list[0]) log(`  rule: ${list[0].rule}`);
    for (const b of list) {
      log(`  ${b.key.padEnd(28)} trades ${String(b.trades).padStart(4)}  hit ${b.hitRate === null ? '  – ' : (100 * b.hitRate).toFixed(0).padStart(3) + '%'}  return ${(100 * b.totalReturn).toFixed(2).padStart(7)} %  Sharpe ${b.sharpe === null ? '–' : b.sharpe.toFixed(2).padStart(5)}  max drawdown ${(100 * b.maxDrawdown).toFixed(2)} %${b.chancePercentile === null ? '' : `  Sharpe above ${b.chancePercentile.toFixed(0)} % of random signals`}`);
    }
    return list;
  });

  const fingpt = await clock.run('fingpt', 'LoRA on StockNet FinGPT-style prompts; generations for the review page', async () => {
    try {
      const f = await runFingpt(o.dataDir, out, budget, o.seed, log);
      const s = f.scores;
      log(`  ${f.method}: ${s.n} dev answers, ${s.n - s.answer_parse_failures} parsed; binary accuracy ${s.binary_accuracy === null ? '–' : s.binary_accuracy.toFixed(2)}, MSE ${s.mse === null ? '–' : s.mse.toFixed(2)} (a tiny from-scratch model: the pipeline, not the scores)`);
      return f;
    } catch (err) {
      log(`  FinGPT stage failed: ${(err as Error).message}`);
      return null;
    }
  });

  const verdict = verdictOf(evaluation, runs, backtest);
  const result: DemoResult = {
    schema: 'fintune.demo/1',
    size: o.size,
    seed: o.seed,
    out,
    startedAt,
    finishedAt: '',
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg(), backend: backend.name, threads: backend.threads, node: process.version, fintune: VERSION },
    data: {
      heldOut: HELD_OUT,
      pretrainOn: PRETRAIN_INSTRUMENTS,
      window: { known: data.cfg.known, horizon: data.cfg.horizon, scaling: data.cfg.scaling, precision: data.cfg.precision ?? 0 },
      parts: data.split.description.parts.map((p) => ({ name: p.name, first: p.first, last: p.last, bars: p.bars, windows: p.windows })),
      pretrainCorpus: data.pretrain.map((p) => ({ instrument: p.instrument, first: p.first, last: p.last, windows: p.windows.length })),
      firstValidation: new Date(data.split.description.firstValTime).toISOString(),
      testWindows: data.test.length,
      forecastSamples: data.samples,
    },
    pretrain: { dir: pre.dir, steps: pre.steps, finalLoss: pre.finalLoss, valLoss: pre.valLoss, trainWindows: pre.trainWindows, params: pre.params },
    runs: runs.map(({ records: _r, ...rest }) => rest),
    evaluation,
    backtest,
    fingpt,
    stages: clock.times,
    verdict,
    report: null,
  };
  result.report = await clock.run('report', 'report.md and report.html', () => writeDemoReport(result, out, all, data.eurusd.close.subarray(data.split.description.parts[0]!.from, data.split.description.parts[0]!.to)));
  result.stages = clock.times;
  result.finishedAt = new Date().toISOString();
  writeFileAtomic(path.join(out, 'demo.json'), JSON.stringify(result, null, 1) + '\n');
  return result;
}

function printTable(ev: EvaluationResults | null, log: Log): void {
  if (!ev) return;
  log(`  ${ev.n_windows} test windows, horizon ${ev.horizon}; skill = 1 − MSE / MSE(persistence)`);
  log(`  ${'forecaster'.padEnd(28)}${'RMSE'.padStart(10)}${'skill'.padStart(9)}${'dir.acc'.padStart(9)}${'parse fail'.padStart(12)}`);
  for (const m of ev.methods) {
    const dir = m.metrics.direction.accuracy;
    log(`  ${plainName(m.method).padEnd(28)}${m.metrics.rmse.toPrecision(4).padStart(10)}${(m.skill === null ? '–' : m.skill.toFixed(3)).padStart(9)}${(dir === null || dir === undefined ? '–' : dir.toFixed(3)).padStart(9)}${String(m.parse_failures).padStart(12)}`);
  }
}

/** The closing summary: stage budget, verdict, where things are. */
export function summaryLines(r: DemoResult, runsArg: string): string[] {
  const lines = ['', 'Time per stage (planned budget vs spent on this machine):'];
  let planned = 0;
  let spent = 0;
  for (const s of r.stages) {
    planned += s.planned;
    spent += s.spent;
    lines.push(`  ${s.stage.padEnd(10)} planned ${fmtSec(s.planned).padStart(10)}   spent ${fmtSec(s.spent).padStart(10)}`);
  }
  lines.push(`  ${'total'.padEnd(10)} planned ${fmtSec(planned).padStart(10)}   spent ${fmtSec(spent).padStart(10)}   (load average at the end ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs)`);
  lines.push('', 'Verdict:', ...r.verdict.map((v) => `  ${v}`));
  if (r.fingpt) lines.push(`  FinGPT stage: ${r.fingpt.note}.`);
  lines.push('', `Report:    ${r.report?.html ?? '(not written)'}`, `Markdown:  ${r.report?.markdown ?? '(not written)'}`, `Dashboard: npx fintune serve --runs ${runsArg}   (open the address it prints: every method's run, the report, and fingpt-lora's generations on the review page)`);
  return lines;
}
