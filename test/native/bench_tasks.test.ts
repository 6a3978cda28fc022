// The decode, lora and qlora benchmark tasks at FINTUNE_BENCH_TINY's size (seconds, not minutes), the --peer
// protocol with in-process runners and fake peers, and the summary maths (medians, ratios) on fake records.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchModel, runDecodeBench, weightBytesPerToken } from '../../src/bench/decode.js';
import { onnxModel, runPeer, summarize, summarizeDecode, summarizeQlora, TORCH_PEER } from '../../src/bench/peer.js';
import { runTrainBench, TINY_TASK } from '../../src/bench/train.js';
import type { BenchRecord } from '../../src/bench/common.js';
import { f32ToBf16 } from '../../src/tensor/half.js';
import { PATHS, usePath } from './helpers.js';

const PEER_FIELDS = ['task', 'engine', 'threads', 'cpu', 'simd', 'dtype', 'shape', 'tok_per_s', 's_per_step', 'peak_rss_mib'];

function rec(task: string, fields: Record<string, unknown>): BenchRecord {
  return { task, engine: 'x', threads: 2, cpu: 'c', simd: 'avx512', dtype: 'fp32', shape: 's', peak_rss_mib: 100, ...fields };
}

describe('bench summaries (medians of fake records)', () => {
  it('decode: ratios between the medians of ours fp32, ours bf16, torch and ort', () => {
    const ours = [10, 30, 20].map((t, i) => rec('decode', { tok_per_s: t, bandwidth_fraction: [0.2, 0.6, 0.4][i], read_gbs: 20, prefill_tok_per_s: 100, peak_rss_mib: 600 + i }));
    const bf16 = [40, 35, 50].map((t) => rec('decode', { tok_per_s: t, bandwidth_fraction: 0.5, read_gbs: 22, prefill_tok_per_s: 90, peak_rss_mib: 400 }));
    const torch = [8, 12, 10].map((t) => rec('decode', { tok_per_s: t, prefill_tok_per_s: 300, peak_rss_mib: 700 }));
    const ort = [25, 24, 26].map((t) => rec('decode', { tok_per_s: t, peak_rss_mib: 900 }));
    const s = summarizeDecode(ours, bf16, torch, ort);
    expect(s).toMatchObject({
      task: 'decode', summary: true, ours: 20, ours_bf16: 40, torch: 10, ort: 25,
      ratio_vs_torch: 2, ratio_vs_ort: 0.8, ratio_bf16_vs_ort: 1.6, ratio_bf16_vs_torch: 4,
      bandwidth_fraction: 0.4, bandwidth_fraction_bf16: 0.5, read_gbs: 21, repeats: 3,
      prefill_tok_per_s: { ours: 100, ours_bf16: 90, torch: 300 },
      peak_rss_mib: { ours: 601, ours_bf16: 400, torch: 700, ort: 900 },
    });
    expect(s).not.toHaveProperty('ort_skipped');
  });

  it('decode without the onnxruntime peer: ort and its ratios are null and the reason is kept', () => {
    const one = [rec('decode', { tok_per_s: 10 })];
    const s = summarizeDecode(one, one, one, [], 'no onnx module');
    expect(s).toMatchObject({ ort: null, ratio_vs_ort: null, ratio_bf16_vs_ort: null, ort_skipped: 'no onnx module', ratio_vs_torch: 1 });
    expect((s.peak_rss_mib as Record<string, unknown>).ort).toBeNull();
  });

  it('qlora: step time relative to lora is the ratio of the median seconds per step', () => {
    const q = [3, 1.5, 2].map((s, i) => rec('qlora', { s_per_step: s, tok_per_s: 512 / s, peak_rss_mib: [300, 320, 310][i], base_bytes: 100 }));
    const l = [1, 0.8, 1.6].map((s) => rec('lora', { s_per_step: s, tok_per_s: 512 / s, peak_rss_mib: 620, base_bytes: 500 }));
    const s = summarizeQlora(q, l);
    expect(s).toMatchObject({
      task: 'qlora', summary: true, s_per_step: { qlora: 2, lora: 1 }, step_time_vs_lora: 2,
      peak_rss_mib: { qlora: 310, lora: 620, ratio: 0.5 }, base_bytes: { qlora: 100, lora: 500 }, ours: 256, lora: 512, repeats: 3,
    });
  });

  it('lora against torch: the training summary (median tokens/s, RSS ratio)', () => {
    const s = summarize('lora', [rec('lora', { tok_per_s: 300 }), rec('lora', { tok_per_s: 100 }), rec('lora', { tok_per_s: 200 })], [rec('lora', { tok_per_s: 400, peak_rss_mib: 200 })]);
    expect(s).toMatchObject({ task: 'lora', ours: 200, torch: 400, ratio_vs_torch: 0.5, peak_rss_mib: { ours: 100, torch: 200, ratio: 0.5 } });
  });
});

describe.runIf(PATHS.length > 0)('bench tasks at the tiny size', () => {
  const prev = process.env.FINTUNE_BENCH_TINY;
  beforeAll(() => {
    process.env.FINTUNE_BENCH_TINY = '1';
    usePath(PATHS[0]!, 2, 'bench tasks');
  });
  afterAll(() => {
    if (prev === undefined) delete process.env.FINTUNE_BENCH_TINY;
    else process.env.FINTUNE_BENCH_TINY = prev;
  });

  it("decode reports the peer's fields, prefill speed and the weight bytes a token reads", () => {
    const r = runDecodeBench({ backend: 'native', dtype: 'fp32', bandwidthSeconds: 0.05 });
    for (const k of [...PEER_FIELDS, 'prefill_tok_per_s', 'weight_bytes_per_token', 'read_gbs', 'bandwidth_fraction']) expect(r).toHaveProperty(k);
    expect(r).toMatchObject({ task: 'decode', dtype: 'fp32', shape: 'prompt8+new16', simd: PATHS[0], threads: 2 });
    // The plain GPT-2 decodes one native call a token.
    expect(r.native_step).toBe(true);
    expect(r.tok_per_s).toBeGreaterThan(0);
    expect(r.prefill_tok_per_s).toBeGreaterThan(0);
    // 2 blocks of (c_attn 64×192, attn.c_proj 64×64, c_fc 64×256, mlp.c_proj 256×64) and the tied head 512×64, fp32.
    const C = 64;
    expect(r.weight_bytes_per_token).toBe((2 * (C * 3 * C + C * C + 2 * C * 4 * C) + 512 * C) * 4);
    if (r.read_gbs !== null) {
      expect(r.read_gbs).toBeGreaterThan(0);
      expect(r.bandwidth_fraction).toBeCloseTo(((r.weight_bytes_per_token as number) * (r.tok_per_s as number)) / ((r.read_gbs as number) * 1e9), 2);
    } else {
      expect(r.bandwidth_fraction).toBeNull();
    }
  });

  it('decode --dtype bf16 reads half the weight bytes; --profile splits kernel and overhead time', () => {
    const r = runDecodeBench({ backend: 'native', dtype: 'bf16', profile: true, bandwidthSeconds: 0 });
    // The profile times kernel calls one by one, so its steps go through the tensor API.
    expect(r).toMatchObject({ dtype: 'bf16', read_gbs: null, bandwidth_fraction: null, native_step: false });
    expect(r.weight_bytes_per_token).toBe((2 * (64 * 192 + 64 * 64 + 2 * 64 * 256) + 512 * 64) * 2);
    expect(r.kernel_ms_per_token).toBeGreaterThan(0);
    expect((r.kernel_ms_per_token as number) + (r.overhead_ms_per_token as number)).toBeCloseTo((r.s_per_step as number) * 1e3, 1);
  });

  it("the bf16 benchmark model holds the fp32 model's initial values rounded to bf16", () => {
    const a = benchModel(TINY_TASK.model, 'fp32', 0);
    const b = benchModel(TINY_TASK.model, 'bf16', 0);
    const pb = new Map(b.namedParameters());
    for (const [name, p] of a.namedParameters()) {
      const q = pb.get(name)!;
      const want = q.dtype === 'bf16' ? f32ToBf16(p.data as Float32Array) : (p.data as Float32Array);
      expect(q.data, name).toEqual(want);
    }
    expect(weightBytesPerToken(b) * 2).toBe(weightBytesPerToken(a));
  });

  it('lora trains only the c_attn adapters; qlora adds a base of NF4 weights smaller than the fp32 one', () => {
    const lora = runTrainBench({ task: 'lora', backend: 'native', steps: 2, warmup: 1 });
    const qlora = runTrainBench({ task: 'qlora', backend: 'native', steps: 2, warmup: 1 });
    for (const r of [lora, qlora]) {
      for (const k of [...PEER_FIELDS, 'trainable_params', 'base_bytes']) expect(r).toHaveProperty(k);
      // r = 8 on c_attn (64 → 192) in 2 blocks: A 8×64 + B 192×8 each.
      expect(r.trainable_params).toBe(2 * (8 * 64 + 192 * 8));
      expect(r.shape).toBe('B2xT16');
      expect(r.tok_per_s).toBeGreaterThan(0);
    }
    expect(lora.task).toBe('lora');
    expect(qlora).toMatchObject({ task: 'qlora', base_dtype: 'nf4' });
    // The blocks' matrices (2 × 49,152 weights) go from 4 bytes to about half a byte each.
    const saved = (lora.base_bytes as number) - (qlora.base_bytes as number);
    expect(saved).toBeGreaterThan(2 * 49152 * 3.3);
    expect(saved).toBeLessThan(2 * 49152 * 3.6);
  });

  it('--peer interleaves the engines per repeat and ends each task with its summary', () => {
    const lines: Record<string, unknown>[] = [];
    const logs: string[] = [];
    const order: string[] = [];
    const fake = (task: string, tok: number): BenchRecord => rec(task, { engine: 'torch fake', tok_per_s: tok, s_per_step: 1 });
    runPeer({
      tasks: ['decode', 'qlora'],
      repeat: 2,
      threads: 2,
      steps: 1,
      warmup: 0,
      python: '/nonexistent',
      emit: (r) => lines.push(r as Record<string, unknown>),
      log: (m) => logs.push(m),
      runners: {
        ours: (task, extra) => {
          order.push(`ours ${task} ${extra.join(' ')}`.trim());
          const dtype = extra[1] === 'bf16' ? 'bf16' : 'fp32';
          return task === 'decode'
            ? runDecodeBench({ backend: 'native', dtype, bandwidthSeconds: 0 })
            : runTrainBench({ task: task as 'lora' | 'qlora', backend: 'native', steps: 1, warmup: 0 });
        },
        torch: (task) => (order.push(`torch ${task}`), fake(task, 1)),
        ort: () => {
          throw new Error('no ort at the tiny size');
        },
      },
    });
    expect(order).toEqual([
      'ours decode --dtype fp32', 'ours decode --dtype bf16', 'torch decode',
      'ours decode --dtype fp32', 'ours decode --dtype bf16', 'torch decode',
      'ours qlora', 'ours lora', 'ours qlora', 'ours lora',
    ]);
    expect(logs.join('\n')).toMatch(/onnxruntime decode peer is skipped: FINTUNE_BENCH_TINY/);
    const summaries = lines.filter((l) => l.summary);
    expect(summaries.map((l) => l.task)).toEqual(['decode', 'qlora']);
    const [dec, q] = summaries as [Record<string, unknown>, Record<string, unknown>];
    const decRecs = lines.filter((l) => l.task === 'decode' && !l.summary && String(l.engine).startsWith('fintune'));
    expect(decRecs.map((l) => [l.dtype, l.repeat])).toEqual([['fp32', 1], ['bf16', 1], ['fp32', 2], ['bf16', 2]]);
    const med2 = (xs: number[]) => (xs[0]! + xs[1]!) / 2;
    expect(dec.ours).toBeCloseTo(med2(decRecs.filter((l) => l.dtype === 'fp32').map((l) => l.tok_per_s as number)), 0);
    expect(dec).toMatchObject({ torch: 1, ort: null, repeats: 2 });
    expect(dec.ratio_vs_torch).toBeCloseTo(dec.ours as number, 0);
    expect(dec.ort_skipped).toMatch(/tiny/);
    const qs = lines.filter((l) => !l.summary && (l.task === 'qlora' || l.task === 'lora'));
    const sq = med2(qs.filter((l) => l.task === 'qlora').map((l) => l.s_per_step as number));
    const sl = med2(qs.filter((l) => l.task === 'lora').map((l) => l.s_per_step as number));
    expect(q.step_time_vs_lora).toBeCloseTo(sq / sl, 2);
  });
});

describe.runIf(existsSync(TORCH_PEER))('the ONNX export for the onnxruntime decode peer', () => {
  let dir = '';
  beforeAll(() => void (dir = mkdtempSync(path.join(os.tmpdir(), 'fintune-onnx-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the missing Python module instead of failing the run, and leaves nothing half-written', () => {
    const py = path.join(dir, 'python');
    writeFileSync(py, `#!/bin/sh\necho "ModuleNotFoundError: No module named 'onnx'" >&2\nexit 1\n`);
    chmodSync(py, 0o755);
    const file = path.join(dir, 'cache', 'gpt2_step.onnx');
    const r = onnxModel({ python: py, onnxFile: file, log: () => {} });
    expect(r).toEqual({ skip: expect.stringMatching(/Python module "onnx".*python3-onnx/) });
    expect(existsSync(file)).toBe(false);
  });

  it('reuses a cached export without running Python', () => {
    const file = path.join(dir, 'gpt2_step.onnx');
    writeFileSync(file, 'x');
    const logs: string[] = [];
    expect(onnxModel({ python: '/nonexistent', onnxFile: file, log: (m) => logs.push(m) })).toEqual({ file });
    expect(logs.join()).toMatch(/reusing/);
  });
});
