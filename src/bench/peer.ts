/**
 * `--peer`: ours and the peers, interleaved `repeat` times, every measurement in its own process (so each peak
 * RSS is its own and neither warms the other's caches), then one summary line a task from the medians.
 *
 * Peers per task:
 *   gemm, full, small, lora  ours vs ../shared/bench/torch_peer.py --task <task>
 *   decode                   ours fp32, ours bf16, torch_peer.py --task decode and ../shared/bench/ort_peer.mjs
 *                            (onnxruntime-node on the ONNX export of the same model, cached once; see onnxModel)
 *   qlora                    no peer does QLoRA on a CPU: ours qlora vs ours lora (what the NF4 base costs)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchTiny, median, round, type BenchRecord } from './common.js';

/** The project root: the same two levels up from src/bench and dist/bench. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TORCH_PEER = path.resolve(PROJECT_ROOT, '../shared/bench/torch_peer.py');
export const ORT_PEER = path.resolve(PROJECT_ROOT, '../shared/bench/ort_peer.mjs');
export const ORT_MODULE = path.resolve(PROJECT_ROOT, 'node_modules/onnxruntime-node');

export interface PeerOptions {
  tasks: string[];
  repeat: number;
  threads: number;
  steps: number;
  warmup: number;
  python: string;
  emit: (rec: unknown) => void;
  /** Progress and skip notes (stderr by default). */
  log?: (msg: string) => void;
  /** Where the decode peer's ONNX export is cached (default: benchCacheDir()/gpt2_step.onnx). */
  onnxFile?: string;
  /** Replace how single measurements are taken (tests run them in-process at the tiny size). */
  runners?: Partial<PeerRunners>;
}

/** One measurement each (by default each in its own process). */
export interface PeerRunners {
  ours(task: string, extra: string[]): BenchRecord;
  torch(task: string): BenchRecord;
  ort(onnxFile: string): BenchRecord;
  onnx(): OnnxModel;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): BenchRecord {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) throw new Error(`bench: could not run ${cmd}: ${r.error.message}`);
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    throw new Error(`bench: ${path.basename(cmd)} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as BenchRecord;
}

/** Runs this same CLI (whatever form it runs in: dist JS or TS through a loader) as a single measurement. */
function runOurs(task: string, o: PeerOptions, extra: string[] = []): BenchRecord {
  const args = [...process.execArgv, process.argv[1]!, 'bench', '--task', task, '--json', '--threads', String(o.threads), ...extra];
  if (task !== 'gemm' && task !== 'decode') args.push('--steps', String(o.steps), '--warmup', String(o.warmup));
  return runJson(process.execPath, args, process.env);
}

function runTorch(task: string, o: PeerOptions): BenchRecord {
  if (!existsSync(TORCH_PEER)) throw new Error(`bench: the PyTorch peer is not at ${TORCH_PEER}`);
  const args = [TORCH_PEER, '--task', task, '--threads', String(o.threads)];
  if (task !== 'gemm' && task !== 'decode') args.push('--steps', String(o.steps), '--warmup', String(o.warmup));
  // torch.set_num_threads does not reach Debian's pthread OpenBLAS, which sizes its own pool from the CPU count:
  // without this a 1-thread comparison would pit one of our threads against two of OpenBLAS's.
  const n = String(o.threads);
  return runJson(o.python, args, { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n });
}

/** $XDG_CACHE_HOME/fintune/bench (else ~/.cache/fintune/bench): where the ONNX export is kept between runs. */
export function benchCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'fintune', 'bench');
}

export type OnnxModel = { file: string } | { skip: string };

/**
 * The decode peer's model: torch_peer.py --export-onnx (GPT-2 124M, seed 0, one decode step with an explicit KV
 * cache), written once into the cache dir (~650 MB) and reused while present. The export goes to a private
 * directory first and is moved into place only when it succeeded, so an interrupted export is never reused.
 * Returns why not when it cannot be made (no PyTorch, no `onnx` module, no peer script).
 */
export function onnxModel(o: Pick<PeerOptions, 'python' | 'onnxFile' | 'log'>): OnnxModel {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const file = o.onnxFile ?? path.join(benchCacheDir(), 'gpt2_step.onnx');
  if (existsSync(file) && statSync(file).size > 0) {
    log(`bench: decode peer model: reusing ${file}`);
    return { file };
  }
  if (!existsSync(TORCH_PEER)) return { skip: `the PyTorch peer (which exports the ONNX model) is not at ${TORCH_PEER}` };
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.export-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  log(`bench: exporting the decode peer's ONNX model (GPT-2 124M, ~650 MB) to ${file} (once; later runs reuse it)`);
  try {
    const r = spawnSync(o.python, [TORCH_PEER, '--export-onnx', path.join(tmp, path.basename(file))], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.error) return { skip: `could not run ${o.python}: ${r.error.message}` };
    if (r.status !== 0) {
      const err = r.stderr ?? '';
      const missing = /No module named '([^']+)'/.exec(err)?.[1];
      const why = missing
        ? `the ONNX export needs the Python module "${missing}" (apt-get install -y ${missing === 'torch' ? 'python3-torch libopenblas0-pthread' : `python3-${missing}`})`
        : `the ONNX export failed (exit ${r.status}): ${err.trim().split('\n').slice(-3).join(' | ')}`;
      return { skip: why };
    }
    for (const f of readdirSync(tmp)) renameSync(path.join(tmp, f), path.join(dir, f));
    if (!existsSync(file)) return { skip: `the ONNX export wrote no ${path.basename(file)}` };
    return { file };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function runOrt(file: string): BenchRecord {
  if (!existsSync(ORT_PEER)) throw new Error(`bench: the onnxruntime peer is not at ${ORT_PEER}`);
  return runJson(process.execPath, [ORT_PEER, file, ORT_MODULE], process.env);
}

const med = (rs: BenchRecord[], f: (r: BenchRecord) => unknown): number => median(rs.map((r) => Number(f(r) ?? NaN)));
const ratio = (a: number, b: number, digits = 3): number | null => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? round(a / b, digits) : null);
const r1 = (x: number): number | null => (Number.isFinite(x) ? round(x, 1) : null);

/** The figure compared per task: tokens/s for training steps, GFLOP/s per shape for gemm. */
export function summarize(task: string, ours: BenchRecord[], torch: BenchRecord[]): Record<string, unknown> {
  if (task === 'gemm') {
    const shapes = Object.keys((ours[0]?.gflops as Record<string, number>) ?? {});
    const medShapes = (rs: BenchRecord[]) =>
      Object.fromEntries(shapes.map((s) => [s, round(median(rs.map((r) => (r.gflops as Record<string, number>)[s] ?? NaN)), 1)]));
    const o = medShapes(ours);
    const t = medShapes(torch);
    const byShape = Object.fromEntries(shapes.map((s) => [s, round(o[s]! / t[s]!, 3)]));
    return {
      task,
      summary: true,
      ours: o,
      torch: t,
      // The weakest shape decides: the claim is "faster at every shape".
      ratio_vs_torch: round(Math.min(...Object.values(byShape)), 3),
      ratio_by_shape: byShape,
      peak_fraction: round(median(ours.map((r) => Number(r.peak_fraction))), 3),
      repeats: ours.length,
    };
  }
  const o = med(ours, (r) => r.tok_per_s);
  const t = med(torch, (r) => r.tok_per_s);
  const ro = med(ours, (r) => r.peak_rss_mib);
  const rt = med(torch, (r) => r.peak_rss_mib);
  return {
    task,
    summary: true,
    ours: round(o, 1),
    torch: round(t, 1),
    ratio_vs_torch: round(o / t, 3),
    peak_rss_mib: { ours: ro, torch: rt, ratio: round(ro / rt, 3) },
    repeats: ours.length,
  };
}

/**
 * Decode: medians of each engine's tokens/s (ours fp32 is `ours`), the ratios between them, and the fraction of
 * the measured read bandwidth our decode streams weights at (fp32; bf16 beside it). `ort` is null, with the
 * reason in `ort_skipped`, when the onnxruntime peer could not run.
 */
export function summarizeDecode(
  ours: BenchRecord[],
  oursBf16: BenchRecord[],
  torch: BenchRecord[],
  ort: BenchRecord[],
  ortSkipped: string | null = null,
): Record<string, unknown> {
  const tok = (rs: BenchRecord[]) => med(rs, (r) => r.tok_per_s);
  const o = tok(ours);
  const b = tok(oursBf16);
  const t = tok(torch);
  const x = tok(ort);
  const rss = (rs: BenchRecord[]) => (rs.length ? med(rs, (r) => r.peak_rss_mib) : null);
  const prefill = (rs: BenchRecord[]) => r1(med(rs, (r) => r.prefill_tok_per_s));
  return {
    task: 'decode',
    summary: true,
    ours: r1(o),
    ours_bf16: r1(b),
    torch: r1(t),
    ort: r1(x),
    ratio_vs_torch: ratio(o, t),
    ratio_vs_ort: ratio(o, x),
    ratio_bf16_vs_ort: ratio(b, x),
    ratio_bf16_vs_torch: ratio(b, t),
    bandwidth_fraction: round3(med(ours, (r) => r.bandwidth_fraction)),
    bandwidth_fraction_bf16: round3(med(oursBf16, (r) => r.bandwidth_fraction)),
    read_gbs: r1(med([...ours, ...oursBf16], (r) => r.read_gbs)),
    prefill_tok_per_s: { ours: prefill(ours), ours_bf16: prefill(oursBf16), torch: prefill(torch) },
    peak_rss_mib: { ours: rss(ours), ours_bf16: rss(oursBf16), torch: rss(torch), ort: rss(ort) },
    ...(ortSkipped ? { ort_skipped: ortSkipped } : {}),
    repeats: ours.length,
  };
}

function round3(x: number): number | null {
  return Number.isFinite(x) ? round(x, 3) : null;
}

/**
 * QLoRA against our own LoRA (no CPU peer does QLoRA): step time of the NF4 base relative to the fp32 base
 * (median s/step ÷ median s/step), both peak RSS and both bases' bytes.
 */
export function summarizeQlora(qlora: BenchRecord[], lora: BenchRecord[]): Record<string, unknown> {
  const sq = med(qlora, (r) => r.s_per_step);
  const sl = med(lora, (r) => r.s_per_step);
  const rq = med(qlora, (r) => r.peak_rss_mib);
  const rl = med(lora, (r) => r.peak_rss_mib);
  return {
    task: 'qlora',
    summary: true,
    ours: r1(med(qlora, (r) => r.tok_per_s)),
    lora: r1(med(lora, (r) => r.tok_per_s)),
    s_per_step: { qlora: sq, lora: sl },
    step_time_vs_lora: ratio(sq, sl),
    peak_rss_mib: { qlora: rq, lora: rl, ratio: ratio(rq, rl) },
    base_bytes: { qlora: med(qlora, (r) => r.base_bytes), lora: med(lora, (r) => r.base_bytes) },
    repeats: qlora.length,
  };
}

export function runPeer(o: PeerOptions): void {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const run: PeerRunners = {
    ours: (task, extra) => runOurs(task, o, extra),
    torch: (task) => runTorch(task, o),
    ort: (file) => runOrt(file),
    // The ONNX model is GPT-2 124M: a tiny test run never uses it (its numbers would not compare).
    onnx: () => (benchTiny() ? { skip: 'FINTUNE_BENCH_TINY: no ONNX model at the tiny size' } : onnxModel({ ...o, log })),
    ...o.runners,
  };
  for (const task of o.tasks) {
    // Each repeat measures every engine once, in this order; the summary comes from the medians.
    const engines: [string, () => BenchRecord][] = [];
    let onnx: OnnxModel | null = null;
    if (task === 'decode') {
      onnx = run.onnx();
      if ('skip' in onnx) log(`bench: the onnxruntime decode peer is skipped: ${onnx.skip}`);
      const file = 'file' in onnx ? onnx.file : null;
      engines.push(['ours', () => run.ours('decode', ['--dtype', 'fp32'])], ['ours_bf16', () => run.ours('decode', ['--dtype', 'bf16'])]);
      engines.push(['torch', () => run.torch('decode')]);
      if (file) engines.push(['ort', () => run.ort(file)]);
    } else if (task === 'qlora') {
      engines.push(['qlora', () => run.ours('qlora', [])], ['lora', () => run.ours('lora', [])]);
    } else {
      engines.push(['ours', () => run.ours(task, [])], ['torch', () => run.torch(task)]);
    }
    const recs = new Map<string, BenchRecord[]>(engines.map(([name]) => [name, []]));
    for (let r = 0; r < o.repeat; r++) {
      for (const [name, measure] of engines) {
        const rec = measure();
        recs.get(name)!.push(rec);
        o.emit({ ...rec, repeat: r + 1 });
      }
    }
    const get = (name: string): BenchRecord[] => recs.get(name) ?? [];
    if (task === 'decode') o.emit(summarizeDecode(get('ours'), get('ours_bf16'), get('torch'), get('ort'), onnx && 'skip' in onnx ? onnx.skip : null));
    else if (task === 'qlora') o.emit(summarizeQlora(get('qlora'), get('lora')));
    else o.emit(summarize(task, get('ours'), get('torch')));
  }
}
