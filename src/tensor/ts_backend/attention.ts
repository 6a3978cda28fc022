/**
 * Scaled-dot-product attention, flash-attention style: the forward keeps only out and the per-row log-sum-exp;
 * the backward rebuilds each row's probabilities from q, k and lse. Nothing of size [T, S] outlives one query
 * row (a row of scores is the only temporary besides the [S, D] gradient accumulators of one key/value head).
 *
 * Visibility of key j to query i (query i sits at key position i + S - T):
 *   causal:      j <= i + S - T
 *   window > 0:  j >  i + S - T - window     (applied whether or not causal is set)
 *   mask:        scores get mask[b, i, j] added (shared by all heads); -Infinity hides a key.
 * A row with no visible key (or only -Infinity scores) gives out = 0, lse = -Infinity and zero gradients.
 */
import type { AttentionParams, AttnView, Buf } from '../backend.js';
import { checkSameType, checkSize } from './check.js';

/** Throws unless every element of a [B, heads, len, D] view (D contiguous) lies inside its buffer. */
function checkView(kernel: string, name: string, v: AttnView, B: number, heads: number, len: number, D: number): void {
  for (const [what, s] of [['off', v.off], ['sb', v.sb], ['sh', v.sh], ['st', v.st]] as const) {
    if (!Number.isInteger(s) || s < 0) throw new Error(`${kernel}: ${name}.${what} must be a non-negative integer, got ${s}`);
  }
  if (B === 0 || heads === 0 || len === 0 || D === 0) return;
  const last = v.off + (B - 1) * v.sb + (heads - 1) * v.sh + (len - 1) * v.st + D - 1;
  if (last >= v.data.length) {
    throw new Error(
      `${kernel}: ${name} view [${B}, ${heads}, ${len}, ${D}] (off ${v.off}, strides ${v.sb}/${v.sh}/${v.st}/1) ` +
        `reaches element ${last} of a buffer of length ${v.data.length}`,
    );
  }
}

function checkParams(kernel: string, p: AttentionParams): void {
  const { B, H, Hkv, T, S, D } = p;
  for (const [name, n] of [['B', B], ['H', H], ['Hkv', Hkv], ['T', T], ['S', S], ['D', D], ['window', p.window]] as const) {
    checkSize(kernel, name, n);
  }
  if (H > 0 && (Hkv === 0 || H % Hkv !== 0)) {
    throw new Error(`${kernel}: H = ${H} query heads must be a positive multiple of Hkv = ${Hkv} key/value heads`);
  }
  checkView(kernel, 'q', p.q, B, H, T, D);
  checkView(kernel, 'k', p.k, B, Hkv, S, D);
  checkView(kernel, 'v', p.v, B, Hkv, S, D);
  if (p.mask !== null) {
    const m = p.mask;
    if (m.sb < 0 || m.st < 0 || m.off < 0) throw new Error(`${kernel}: mask offset/strides must be non-negative`);
    if (B > 0 && T > 0 && S > 0) {
      const last = m.off + (B - 1) * m.sb + (T - 1) * m.st + S - 1;
      if (last >= m.data.length) {
        throw new Error(`${kernel}: mask [${B}, ${T}, ${S}] reaches element ${last} of a buffer of length ${m.data.length}`);
      }
    }
  }
}

/**
 * Scores of query row i of (b, h) against its visible keys: fills sc[j] for j in the returned [lo, hi) and
 * returns their max: -Infinity when no key is visible or every visible score is -Infinity (a fully masked row).
 */
function scoreRow(p: AttentionParams, b: number, qRow: number, kHead: number, i: number, sc: Float64Array): [number, number, number] {
  const { S, T, D, scale, q, k, mask } = p;
  const pos = i + S - T;
  const hi = p.causal ? Math.min(S, pos + 1) : S;
  const lo = p.window > 0 ? Math.max(0, pos - p.window + 1) : 0;
  const qd = q.data;
  const kd = k.data;
  const mRow = mask !== null ? mask.off + b * mask.sb + i * mask.st : 0;
  let max = -Infinity;
  for (let j = lo; j < hi; j++) {
    const kRow = kHead + j * k.st;
    let s = 0;
    for (let d = 0; d < D; d++) s += qd[qRow + d] * kd[kRow + d];
    s *= scale;
    if (mask !== null) s += mask.data[mRow + j];
    sc[j] = s;
    if (s > max) max = s;
  }
  return [lo, hi, max];
}

export function attentionForward(p: AttentionParams, out: AttnView, lse: Buf): void {
  const K = 'attentionForward';
  checkParams(K, p);
  const { B, H, Hkv, T, S, D, q, k, v } = p;
  checkView(K, 'out', out, B, H, T, D);
  checkSameType(K, q.data, k.data, v.data, p.mask?.data ?? null, out.data, lse);
  if (B * H * T > lse.length) throw new Error(`${K}: lse needs ${B * H * T} elements ([B, H, T]) but has ${lse.length}`);

  const group = H / Math.max(Hkv, 1);
  const sc = new Float64Array(S);
  const acc = new Float64Array(D);
  const vd = v.data;
  const od = out.data;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const hk = Math.floor(h / group);
      const qHead = q.off + b * q.sb + h * q.sh;
      const kHead = k.off + b * k.sb + hk * k.sh;
      const vHead = v.off + b * v.sb + hk * v.sh;
      const oHead = out.off + b * out.sb + h * out.sh;
      for (let i = 0; i < T; i++) {
        const oRow = oHead + i * out.st;
        const [lo, hi, max] = scoreRow(p, b, qHead + i * q.st, kHead, i, sc);
        if (max === -Infinity) {
          od.fill(0, oRow, oRow + D);
          lse[(b * H + h) * T + i] = -Infinity;
          continue;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = lo; j < hi; j++) {
          const e = Math.exp(sc[j] - max);
          if (e === 0) continue;
          sum += e;
          const vRow = vHead + j * v.st;
          for (let d = 0; d < D; d++) acc[d] += e * vd[vRow + d];
        }
        for (let d = 0; d < D; d++) od[oRow + d] = acc[d] / sum;
        lse[(b * H + h) * T + i] = max + Math.log(sum);
      }
    }
  }
}

/**
 * With P = softmax(scale·QKᵀ + mask) rebuilt as exp(score - lse), dP = dOut·Vᵀ and Δ_i = Σ_d dOut_id·Out_id
 * (= Σ_j P_ij dP_ij):  dS = P ⊙ (dP - Δ),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q,  dV = Pᵀ·dOut.
 * dK and dV are gathered in double accumulators per key/value head over all its query heads, then written.
 */
export function attentionBackward(
  p: AttentionParams,
  out: AttnView,
  lse: Buf,
  dout: AttnView,
  dq: AttnView,
  dk: AttnView,
  dv: AttnView,
): void {
  const K = 'attentionBackward';
  checkParams(K, p);
  const { B, H, Hkv, T, S, D, scale, q, k, v } = p;
  checkView(K, 'out', out, B, H, T, D);
  checkView(K, 'dout', dout, B, H, T, D);
  checkView(K, 'dq', dq, B, H, T, D);
  checkView(K, 'dk', dk, B, Hkv, S, D);
  checkView(K, 'dv', dv, B, Hkv, S, D);
  checkSameType(K, q.data, k.data, v.data, p.mask?.data ?? null, out.data, lse, dout.data, dq.data, dk.data, dv.data);
  if (B * H * T > lse.length) throw new Error(`${K}: lse needs ${B * H * T} elements ([B, H, T]) but has ${lse.length}`);

  const group = H / Math.max(Hkv, 1);
  const sc = new Float64Array(S);
  const dqAcc = new Float64Array(D);
  const dkAcc = new Float64Array(S * D);
  const dvAcc = new Float64Array(S * D);
  const qd = q.data;
  const kd = k.data;
  const vd = v.data;
  const od = out.data;
  const gd = dout.data;
  for (let b = 0; b < B; b++) {
    for (let hk = 0; hk < Hkv; hk++) {
      dkAcc.fill(0);
      dvAcc.fill(0);
      const kHead = k.off + b * k.sb + hk * k.sh;
      const vHead = v.off + b * v.sb + hk * v.sh;
      for (let h = hk * group; h < (hk + 1) * group; h++) {
        const qHead = q.off + b * q.sb + h * q.sh;
        for (let i = 0; i < T; i++) {
          const qRow = qHead + i * q.st;
          const oRow = out.off + b * out.sb + h * out.sh + i * out.st;
          const gRow = dout.off + b * dout.sb + h * dout.sh + i * dout.st;
          const dqRow = dq.off + b * dq.sb + h * dq.sh + i * dq.st;
          const l = lse[(b * H + h) * T + i];
          if (l === -Infinity) {
            // Fully masked in the forward: out was the constant 0, so no gradient flows anywhere.
            dq.data.fill(0, dqRow, dqRow + D);
            continue;
          }
          const [lo, hi] = scoreRow(p, b, qRow, kHead, i, sc);
          let delta = 0;
          for (let d = 0; d < D; d++) delta += gd[gRow + d] * od[oRow + d];
          dqAcc.fill(0);
          for (let j = lo; j < hi; j++) {
            const pj = Math.exp(sc[j] - l);
            if (pj === 0) continue;
            const vRow = vHead + j * v.st;
            const kRow = kHead + j * k.st;
            let dp = 0;
            for (let d = 0; d < D; d++) dp += gd[gRow + d] * vd[vRow + d];
            const ds = pj * (dp - delta);
            const acc = j * D;
            for (let d = 0; d < D; d++) {
              dqAcc[d] += ds * kd[kRow + d];
              dkAcc[acc + d] += scale * ds * qd[qRow + d];
              dvAcc[acc + d] += pj * gd[gRow + d];
            }
          }
          for (let d = 0; d < D; d++) dq.data[dqRow + d] = scale * dqAcc[d];
        }
      }
      const dkHead = dk.off + b * dk.sb + hk * dk.sh;
      const dvHead = dv.off + b * dv.sb + hk * dv.sh;
      for (let j = 0; j < S; j++) {
        for (let d = 0; d < D; d++) {
          dk.data[dkHead + j * dk.st + d] = dkAcc[j * D + d];
          dv.data[dvHead + j * dv.st + d] = dvAcc[j * D + d];
        }
      }
    }
  }
}
