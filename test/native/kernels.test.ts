// Twin tests of every non-GEMM native kernel against the TS reference: odd sizes (1, 7, 33, 1000), transposed
// and offset (non-contiguous) views, broadcasting, in-place use, under every ISA path the CPU supports.
import { describe, expect, it } from 'vitest';
import type { AttentionParams, AttnView, BinaryOp, StridedView, UnaryOp } from '../../src/tensor/backend.js';
import { tsBackend as ts } from '../../src/tensor/ts_backend/index.js';
import { PATHS, expectClose, native, randn, usePath } from './helpers.js';

const SIZES = [1, 7, 33, 1000];
const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'tanh', 'sigmoid', 'relu', 'square', 'reciprocal', 'sin', 'cos'];
const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'eq', 'gt', 'lt'];

/** A [rows, cols] view of a [cols, rows] buffer (transposed), starting at `off`. */
function transposed(data: Float32Array, rows: number, cols: number, off: number): StridedView {
  return { data, offset: off, strides: [1, rows] };
}

describe.runIf(PATHS.length > 0).each(PATHS)('native kernels (%s)', (simd) => {
  it('unary, binary, affine, copyStrided on strided, broadcast and offset views', () => {
    usePath(simd, 2, 'elementwise');
    const nb = native();
    for (const [r, c] of [[1, 1], [7, 33], [33, 1000], [5, 7]]) {
      const n = r * c;
      const base = randn(n + 9, 7 * r + c, 2);
      // Positive inputs for log/sqrt/pow so both sides compute real numbers (NaN paths are checked below).
      const pos = base.map((v) => Math.abs(v) + 0.1);
      const views: [string, StridedView][] = [
        ['contiguous', { data: base, offset: 5, strides: [c, 1] }],
        ['transposed', transposed(base, r, c, 3)],
      ];
      for (const op of UNARY) {
        for (const [name, v0] of views) {
          const v = op === 'log' || op === 'sqrt' || op === 'rsqrt' ? { ...v0, data: pos } : v0;
          const out = new Float32Array(n + 4);
          const ref = out.slice();
          nb.unary(op, [r, c], v, out, 2);
          ts.unary(op, [r, c], v, ref, 2);
          // exp/tanh/sin/... are libm in float on the native side, JS doubles rounded once on the reference side.
          expectClose(out, ref, 4e-6, 1e-7, `unary ${op} ${name} [${r},${c}]`);
        }
      }
      const bRow = randn(c, 99, 1.5); // broadcast over rows: strides [0, 1]
      const bCol = randn(r, 98, 1.5); // broadcast over columns: strides [1, 0]
      for (const op of BINARY) {
        const a = op === 'pow' ? { data: pos, offset: 5, strides: [c, 1] } : views[0][1];
        const pairs: [string, StridedView, StridedView][] = [
          ['row-broadcast', a, { data: bRow, offset: 0, strides: [0, 1] }],
          ['col-broadcast', views[1][1], { data: bCol, offset: 0, strides: [1, 0] }],
          ['both strided', views[1][1], a],
        ];
        for (const [name, x, y] of pairs) {
          const out = new Float32Array(n);
          const ref = new Float32Array(n);
          nb.binary(op, [r, c], x, y, out, 0);
          ts.binary(op, [r, c], x, y, ref, 0);
          expectClose(out, ref, 2e-6, 1e-7, `binary ${op} ${name} [${r},${c}]`);
        }
      }
      const out = new Float32Array(n);
      const ref = new Float32Array(n);
      nb.affine([r, c], views[1][1], 0.5, -2, out, 0);
      ts.affine([r, c], views[1][1], 0.5, -2, ref, 0);
      expectClose(out, ref, 1e-6, 1e-7, 'affine transposed');
      const dst = new Float32Array(2 * n + 3);
      const dstRef = dst.slice();
      const dv = { data: dst, offset: 3, strides: [1, 2 * r] };
      nb.copyStrided([r, c], views[0][1], dv);
      ts.copyStrided([r, c], views[0][1], { ...dv, data: dstRef });
      expectClose(dst, dstRef, 0, 0, 'copyStrided into a strided destination');
    }
    // NaN semantics at the edges (PyTorch's): relu propagates NaN, sign(NaN) = 0, max/min propagate NaN.
    const special = new Float32Array([NaN, -0, 0, -Infinity, Infinity, -3, 3]);
    for (const op of ['relu', 'sign', 'abs', 'neg', 'square', 'exp'] as UnaryOp[]) {
      const out = new Float32Array(7);
      const ref = new Float32Array(7);
      nb.unary(op, [7], { data: special, offset: 0, strides: [1] }, out, 0);
      ts.unary(op, [7], { data: special, offset: 0, strides: [1] }, ref, 0);
      expectClose(out, ref, 1e-6, 0, `unary ${op} on specials`);
    }
    for (const op of ['max', 'min', 'pow'] as BinaryOp[]) {
      const b = new Float32Array([1, NaN, 2, 0, -1, Infinity, 0.5]);
      const out = new Float32Array(7);
      const ref = new Float32Array(7);
      nb.binary(op, [7], { data: special, offset: 0, strides: [1] }, { data: b, offset: 0, strides: [1] }, out, 0);
      ts.binary(op, [7], { data: special, offset: 0, strides: [1] }, { data: b, offset: 0, strides: [1] }, ref, 0);
      expectClose(out, ref, 1e-6, 0, `binary ${op} on specials`);
    }
  });

  it('in-place elementwise on the same elements, and partial overlaps fall back safely', () => {
    usePath(simd, 2, 'in place');
    const nb = native();
    const x = randn(5000, 3);
    const ref = x.slice();
    nb.unary('tanh', [5000], { data: x, offset: 0, strides: [1] }, x, 0);
    ts.unary('tanh', [5000], { data: ref, offset: 0, strides: [1] }, ref, 0);
    expectClose(x, ref, 4e-6, 1e-7, 'tanh in place');
    const y = randn(5000, 4);
    const yRef = y.slice();
    nb.copyStrided([4000], { data: y, offset: 0, strides: [1] }, { data: y, offset: 1000, strides: [1] });
    ts.copyStrided([4000], { data: yRef, offset: 0, strides: [1] }, { data: yRef, offset: 1000, strides: [1] });
    expectClose(y, yRef, 0, 0, 'overlapping copy');
  });

  it('axpy, fill, reductions and sumSquares', () => {
    usePath(simd, 2, 'reductions');
    const nb = native();
    for (const n of [...SIZES, 100_003]) {
      const x = randn(n + 3, n);
      const y = randn(n + 5, n + 1);
      const yRef = y.slice();
      nb.axpy(n, -0.25, x, 3, y, 5);
      ts.axpy(n, -0.25, x, 3, yRef, 5);
      expectClose(y, yRef, 1e-6, 1e-7, `axpy ${n}`);
      const f = new Float32Array(n + 2);
      nb.fill(n, 1.5, f, 1);
      const fRef = new Float32Array(n + 2);
      ts.fill(n, 1.5, fRef, 1);
      expectClose(f, fRef, 0, 0, `fill ${n}`);
      const s = nb.sumSquares(n, x, 3);
      const sRef = ts.sumSquares(n, x, 3);
      expectClose([s], [sRef], 1e-12, 0, `sumSquares ${n}`);
    }
    for (const [outer, axis, inner] of [[1, 1, 1], [7, 33, 1], [3, 1000, 1], [2, 7, 33], [33, 7, 1000], [4, 0, 3]]) {
      const x = randn(outer * axis * inner + 2, outer + axis + inner);
      x[2 + Math.min(3, outer * axis * inner - 1)] = NaN; // a NaN somewhere: sums carry it, max reports it
      const out = new Float32Array(outer * inner + 1);
      const ref = out.slice();
      nb.reduceSum(outer, axis, inner, x, 2, out, 1);
      ts.reduceSum(outer, axis, inner, x, 2, ref, 1);
      expectClose(out, ref, 1e-5, 1e-5, `reduceSum ${outer},${axis},${inner}`);
      if (axis === 0) continue;
      const idx = new Int32Array(outer * inner);
      const idxRef = new Int32Array(outer * inner);
      nb.reduceMax(outer, axis, inner, x, 2, out, 1, idx);
      ts.reduceMax(outer, axis, inner, x, 2, ref, 1, idxRef);
      expectClose(out, ref, 0, 0, `reduceMax ${outer},${axis},${inner}`);
      expectClose(idx, idxRef, 0, 0, `argmax ${outer},${axis},${inner}`);
    }
  });

  it('layer norm and RMS norm forward and backward (with and without affine)', () => {
    usePath(simd, 2, 'norms');
    const nb = native();
    for (const [N, C] of [[1, 1], [7, 33], [33, 1000], [64, 768]]) {
      const x = randn(N * C, N + C, 3);
      for (let i = 0; i < x.length; i++) x[i] += 5; // a large mean: needs the two-pass variance
      const w = randn(C, 2);
      const b = randn(C, 3);
      const dout = randn(N * C, 4);
      for (const affine of [true, false]) {
        const W = affine ? w : null;
        const B = affine ? b : null;
        const o = new Float32Array(N * C), oR = o.slice();
        const m = new Float32Array(N), mR = m.slice(), r = new Float32Array(N), rR = r.slice();
        nb.layerNormForward(N, C, 1e-5, x, W, B, o, m, r);
        ts.layerNormForward(N, C, 1e-5, x, W, B, oR, mR, rR);
        expectClose(o, oR, 1e-4, 1e-4, `layerNorm out ${N}x${C}`);
        expectClose(m, mR, 1e-5, 1e-6, 'layerNorm mean');
        expectClose(r, rR, 1e-4, 1e-6, 'layerNorm rstd');
        const dx = new Float32Array(N * C), dxR = dx.slice();
        const dw = randn(C, 8), dwR = dw.slice(), db = randn(C, 9), dbR = db.slice(); // accumulate
        nb.layerNormBackward(N, C, dout, x, W, m, r, dx, affine ? dw : null, affine ? db : null);
        ts.layerNormBackward(N, C, dout, x, W, mR, rR, dxR, affine ? dwR : null, affine ? dbR : null);
        expectClose(dx, dxR, 1e-3, 1e-4, `layerNorm dx ${N}x${C}`);
        expectClose(dw, dwR, 1e-4, 1e-4 * Math.sqrt(N), 'layerNorm dw');
        expectClose(db, dbR, 1e-4, 1e-5 * Math.sqrt(N), 'layerNorm db');

        const ro = new Float32Array(N * C), roR = ro.slice(), rs = new Float32Array(N), rsR = rs.slice();
        nb.rmsNormForward(N, C, 1e-6, x, W, ro, rs);
        ts.rmsNormForward(N, C, 1e-6, x, W, roR, rsR);
        expectClose(ro, roR, 1e-5, 1e-6, `rmsNorm out ${N}x${C}`);
        const rdx = new Float32Array(N * C), rdxR = rdx.slice(), rdw = randn(C, 10), rdwR = rdw.slice();
        nb.rmsNormBackward(N, C, dout, x, W, rs, rdx, affine ? rdw : null);
        ts.rmsNormBackward(N, C, dout, x, W, rsR, rdxR, affine ? rdwR : null);
        expectClose(rdx, rdxR, 1e-4, 1e-5, `rmsNorm dx ${N}x${C}`);
        expectClose(rdw, rdwR, 1e-4, 1e-4 * Math.sqrt(N), 'rmsNorm dw');
      }
    }
  });

  it('GELU (tanh and erf), SiLU, softmax forward and backward, in place', () => {
    usePath(simd, 2, 'activations');
    const nb = native();
    for (const n of [...SIZES, 70_001]) {
      const x = randn(n, n + 1, 6);
      if (n > 2) {
        x[0] = 30;
        x[1] = -30; // saturated tails
      }
      const dout = randn(n, n + 2);
      for (const approx of [true, false]) {
        const o = new Float32Array(n), oR = o.slice();
        nb.geluForward(n, approx, x, o);
        ts.geluForward(n, approx, x, oR);
        expectClose(o, oR, 2e-6, 2e-7, `gelu ${approx ? 'tanh' : 'erf'} ${n}`);
        const d = dout.slice(), dR = dout.slice();
        nb.geluBackward(n, approx, x, d, d); // dx aliases dout
        ts.geluBackward(n, approx, x, dR, dR);
        expectClose(d, dR, 2e-5, 2e-6, `gelu backward ${approx ? 'tanh' : 'erf'} ${n}`);
      }
      const s = x.slice(), sR = x.slice();
      nb.siluForward(n, s, s); // out aliases x
      ts.siluForward(n, sR, sR);
      expectClose(s, sR, 2e-6, 1e-7, `silu ${n}`);
      const sd = new Float32Array(n), sdR = sd.slice();
      nb.siluBackward(n, x, dout, sd);
      ts.siluBackward(n, x, dout, sdR);
      expectClose(sd, sdR, 2e-5, 1e-6, `silu backward ${n}`);
    }
    for (const [N, C] of [[1, 1], [7, 33], [33, 1000], [3, 50257]]) {
      const x = randn(N * C, N * C, 8);
      x[0] = -Infinity; // masked entry
      const y = x.slice(), yR = x.slice();
      nb.softmaxForward(N, C, y, y);
      ts.softmaxForward(N, C, yR, yR);
      expectClose(y, yR, 2e-5, 1e-9, `softmax ${N}x${C}`);
      const dy = randn(N * C, 5), dyR = dy.slice();
      nb.softmaxBackward(N, C, y, dy, dy);
      ts.softmaxBackward(N, C, yR, dyR, dyR);
      expectClose(dy, dyR, 1e-4, 1e-7, `softmax backward ${N}x${C}`);
    }
  });

  it('cross-entropy forward and backward, gradient written over the logits, ignored rows', () => {
    usePath(simd, 2, 'cross-entropy');
    const nb = native();
    for (const [N, V] of [[1, 1], [7, 33], [33, 1000], [9, 50257]]) {
      const logits = randn(N * V, N + V, 4);
      const targets = new Int32Array(N).map((_, i) => (i * 7919) % V);
      if (N > 2) targets[1] = -100;
      const loss = new Float32Array(N), lossR = loss.slice(), lse = new Float32Array(N), lseR = lse.slice();
      nb.crossEntropyForward(N, V, -100, logits, targets, loss, lse);
      ts.crossEntropyForward(N, V, -100, logits, targets, lossR, lseR);
      expectClose(lse, lseR, 1e-5, 1e-5, `ce lse ${N}x${V}`);
      expectClose(loss, lossR, 1e-5, 1e-5, `ce loss ${N}x${V}`);
      const scale = new Float32Array(N).fill(1 / N);
      const ref = new Float32Array(N * V);
      ts.crossEntropyBackward(N, V, -100, logits, targets, lseR, scale, ref);
      nb.crossEntropyBackward(N, V, -100, logits, targets, lse, scale, logits); // in place
      expectClose(logits, ref, 1e-4, 1e-9, `ce dlogits ${N}x${V}`);
    }
  });

  it('embedding forward and backward with repeated ids; rope forward and inverse; AdamW', () => {
    usePath(simd, 2, 'embedding/rope/adamw');
    const nb = native();
    for (const [N, C, V] of [[1, 1, 1], [7, 33, 5], [1000, 64, 33]]) {
      const ids = new Int32Array(N).map((_, i) => (i * 31) % V);
      const w = randn(V * C, 5);
      const o = new Float32Array(N * C), oR = o.slice();
      nb.embeddingForward(N, C, ids, w, o);
      ts.embeddingForward(N, C, ids, w, oR);
      expectClose(o, oR, 0, 0, `embedding ${N}x${C}`);
      const dw = randn(V * C, 6), dwR = dw.slice(), g = randn(N * C, 7);
      nb.embeddingBackward(N, C, ids, g, dw);
      ts.embeddingBackward(N, C, ids, g, dwR);
      expectClose(dw, dwR, 1e-5, 1e-5, `embedding backward ${N}x${C}`);
    }
    for (const [rows, D] of [[1, 2], [7, 34], [1000, 64]]) {
      const P = 50;
      const cos = new Float32Array(P * (D / 2)), sin = cos.slice();
      for (let p = 0; p < P; p++)
        for (let i = 0; i < D / 2; i++) {
          cos[p * (D / 2) + i] = Math.cos(p / 10000 ** ((2 * i) / D));
          sin[p * (D / 2) + i] = Math.sin(p / 10000 ** ((2 * i) / D));
        }
      const pos = new Int32Array(rows).map((_, i) => (i * 3) % P);
      const x = randn(rows * D + 4, 11);
      for (const inverse of [false, true]) {
        const o = new Float32Array(rows * D + 2), oR = o.slice();
        nb.rope(rows, D, x, 4, pos, cos, sin, inverse, o, 2);
        ts.rope(rows, D, x, 4, pos, cos, sin, inverse, oR, 2);
        expectClose(o, oR, 1e-5, 1e-6, `rope ${rows}x${D} inverse=${inverse}`);
      }
      const y = x.slice(), yR = x.slice();
      nb.rope(rows, D, y, 4, pos, cos, sin, false, y, 4); // in place
      ts.rope(rows, D, yR, 4, pos, cos, sin, false, yR, 4);
      expectClose(y, yR, 1e-5, 1e-6, `rope in place ${rows}x${D}`);
    }
    for (const n of [...SIZES, 100_001]) {
      const p = randn(n, 1), g = randn(n, 2), m = randn(n, 3, 0.1), v = randn(n, 4).map((t) => t * t * 0.01);
      const pR = p.slice(), mR = m.slice(), vR = v.slice();
      for (let step = 1; step <= 3; step++) {
        nb.adamw(n, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.1, step);
        ts.adamw(n, pR, g, mR, vR, 1e-3, 0.9, 0.999, 1e-8, 0.1, step);
      }
      expectClose(m, mR, 1e-6, 1e-8, `adamw m ${n}`);
      expectClose(v, vR, 1e-6, 1e-10, `adamw v ${n}`);
      expectClose(p, pR, 1e-6, 1e-6, `adamw param ${n}`);
    }
  });

  it('attention forward and backward: causal, sliding window, mask, GQA, fused-qkv views, cached prefix', () => {
    usePath(simd, 2, 'attention');
    const nb = native();
    interface Cfg { B: number; H: number; Hkv: number; T: number; S: number; D: number; causal: boolean; window: number; mask: boolean }
    const cfgs: Cfg[] = [
      { B: 1, H: 1, Hkv: 1, T: 1, S: 1, D: 1, causal: true, window: 0, mask: false },
      { B: 2, H: 3, Hkv: 3, T: 7, S: 7, D: 33, causal: true, window: 0, mask: false },
      { B: 2, H: 4, Hkv: 2, T: 5, S: 12, D: 16, causal: true, window: 4, mask: false },
      { B: 1, H: 2, Hkv: 1, T: 33, S: 33, D: 8, causal: false, window: 0, mask: true },
      { B: 2, H: 12, Hkv: 12, T: 64, S: 64, D: 64, causal: true, window: 0, mask: false },
      // Decode shapes (T <= 4: the direct path): new queries against a longer cache, GQA, window, mask.
      { B: 2, H: 4, Hkv: 2, T: 1, S: 37, D: 33, causal: true, window: 0, mask: false },
      { B: 1, H: 3, Hkv: 3, T: 3, S: 20, D: 16, causal: true, window: 6, mask: true },
      { B: 2, H: 2, Hkv: 1, T: 4, S: 4, D: 7, causal: false, window: 0, mask: true },
    ];
    for (const c of cfgs) {
      const { B, H, Hkv, T, S, D } = c;
      // q, k, v as slices of one fused [B, T, 3, H, D] buffer when shapes allow it (the qkv projection layout).
      const fused = H === Hkv && T === S;
      let q: AttnView, k: AttnView, v: AttnView;
      if (fused) {
        const qkv = randn(B * T * 3 * H * D, 21);
        const st = 3 * H * D;
        q = { data: qkv, off: 0, sb: T * st, sh: D, st };
        k = { data: qkv, off: H * D, sb: T * st, sh: D, st };
        v = { data: qkv, off: 2 * H * D, sb: T * st, sh: D, st };
      } else {
        q = { data: randn(B * H * T * D + 3, 22), off: 3, sb: H * T * D, sh: T * D, st: D };
        k = { data: randn(B * Hkv * S * D, 23), off: 0, sb: Hkv * S * D, sh: S * D, st: D };
        v = { data: randn(B * Hkv * S * D, 24), off: 0, sb: Hkv * S * D, sh: S * D, st: D };
      }
      let mask: AttentionParams['mask'] = null;
      if (c.mask) {
        const m = new Float32Array(B * T * S);
        for (let i = 0; i < m.length; i++) m[i] = i % 5 === 0 ? -Infinity : (i % 3) * 0.1;
        for (let j = 0; j < S; j++) m[2 * S + j] = -Infinity; // a fully masked row
        mask = { data: m, off: 0, sb: T * S, st: S };
      }
      const p: AttentionParams = { B, H, Hkv, T, S, D, scale: 1 / Math.sqrt(D), causal: c.causal, window: c.window, q, k, v, mask };
      const ov = (data: Float32Array): AttnView => ({ data, off: 0, sb: H * T * D, sh: T * D, st: D });
      const kv = (data: Float32Array): AttnView => ({ data, off: 0, sb: Hkv * S * D, sh: S * D, st: D });
      const out = ov(new Float32Array(B * H * T * D)), outR = ov(new Float32Array(B * H * T * D));
      const lse = new Float32Array(B * H * T), lseR = lse.slice();
      nb.attentionForward(p, out, lse);
      ts.attentionForward(p, outR, lseR);
      const what = JSON.stringify(c);
      expectClose(out.data, outR.data, 1e-4, 1e-5, `attention out ${what}`);
      expectClose(lse, lseR, 1e-5, 1e-5, `attention lse ${what}`);
      const dout = ov(randn(B * H * T * D, 25));
      const dq = ov(new Float32Array(B * H * T * D)), dqR = ov(new Float32Array(B * H * T * D));
      const dk = kv(new Float32Array(B * Hkv * S * D).fill(7)), dkR = kv(new Float32Array(B * Hkv * S * D));
      const dv = kv(new Float32Array(B * Hkv * S * D).fill(7)), dvR = kv(new Float32Array(B * Hkv * S * D));
      nb.attentionBackward(p, out, lse, dout, dq, dk, dv);
      ts.attentionBackward(p, outR, lseR, dout, dqR, dkR, dvR);
      expectClose(dq.data, dqR.data, 1e-3, 1e-5, `attention dq ${what}`);
      expectClose(dk.data, dkR.data, 1e-3, 1e-5, `attention dk ${what}`);
      expectClose(dv.data, dvR.data, 1e-3, 1e-5, `attention dv ${what}`);
    }
  });

  it('keeps subnormals: loading and running the addon does not turn on flush-to-zero', () => {
    usePath(simd, 2, 'subnormals');
    const nb = native();
    const x = new Float32Array(1000).fill(1e-40); // subnormal in f32
    const out = new Float32Array(1000);
    nb.affine([1000], { data: x, offset: 0, strides: [1] }, 1, 0, out, 0);
    expect(out[999]).toBe(x[999]);
    expect(out[999]).not.toBe(0);
    const c = new Float32Array(4);
    nb.gemm({ transA: false, transB: false, M: 2, N: 2, K: 1, alpha: 1, beta: 0, a: new Float32Array([1e-20, 1e-20]), aOff: 0, lda: 1, strideA: 0, b: new Float32Array([1e-20, 1e-20]), bOff: 0, ldb: 2, strideB: 0, c, cOff: 0, ldc: 2, strideC: 0, batch: 1 });
    expect(c[0]).toBeGreaterThan(0); // 1e-40: subnormal product survives
    // And JS doubles in this process still see subnormals.
    const tiny = Number.MIN_VALUE;
    expect((tiny * 3) / 3).toBe(tiny);
  });

  it('throws on out-of-range ids and too-small buffers instead of touching memory', () => {
    usePath(simd, 2, 'bounds');
    const nb = native();
    const bad = (f: () => void, what: string) => {
      let threw = false;
      try {
        f();
      } catch {
        threw = true;
      }
      if (!threw) throw new Error(`expected ${what} to throw`);
    };
    bad(() => nb.embeddingForward(2, 4, new Int32Array([0, 3]), new Float32Array(12), new Float32Array(8)), 'embedding id 3 of 3 rows');
    bad(() => nb.crossEntropyForward(1, 4, -100, new Float32Array(4), new Int32Array([4]), new Float32Array(1), new Float32Array(1)), 'target 4 of V=4');
    bad(() => nb.layerNormForward(4, 4, 1e-5, new Float32Array(15), null, null, new Float32Array(16), new Float32Array(4), new Float32Array(4)), 'short x');
    bad(() => nb.unary('exp', [4, 4], { data: new Float32Array(16), offset: 1, strides: [4, 1] }, new Float32Array(16), 0), 'view past the end');
  });
});
