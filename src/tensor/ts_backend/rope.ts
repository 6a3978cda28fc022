/**
 * Rotary position embedding, rotate-half convention (Hugging Face Llama): dims i and i + D/2 of each row form a
 * pair rotated by the angle whose cos/sin sit at table[pos, i] of the [P, D/2] tables. The inverse rotates by -θ,
 * which is both the exact inverse and the backward (a rotation's transpose is its inverse).
 */
import type { Buf } from '../backend.js';
import { checkSameType, checkSize, checkSpan } from './check.js';

export function rope(
  rows: number,
  D: number,
  x: Buf,
  xOff: number,
  rowPos: Int32Array,
  cos: Buf,
  sin: Buf,
  inverse: boolean,
  out: Buf,
  outOff: number,
): void {
  const K = 'rope';
  checkSize(K, 'rows', rows);
  checkSize(K, 'D', D);
  if (D % 2 !== 0) throw new Error(`${K}: head dim D = ${D} must be even`);
  checkSameType(K, x, cos, sin, out);
  checkSpan(K, 'x', x, xOff, rows * D);
  checkSpan(K, 'out', out, outOff, rows * D);
  checkSpan(K, 'rowPos', rowPos, 0, rows);
  const half = D / 2;
  if (cos.length !== sin.length) throw new Error(`${K}: cos (${cos.length}) and sin (${sin.length}) tables differ in size`);
  const P = half === 0 ? Infinity : Math.floor(cos.length / half);
  // -θ only flips the sign of sin.
  const sgn = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const pos = rowPos[r];
    if (pos < 0 || pos >= P) throw new Error(`${K}: position ${pos} of row ${r} is outside the [${P}, ${half}] cos/sin tables`);
    const t = pos * half;
    const xr = xOff + r * D;
    const or = outOff + r * D;
    for (let i = 0; i < half; i++) {
      const c = cos[t + i];
      const s = sgn * sin[t + i];
      // Both halves are read before either is written, so out may alias x.
      const x1 = x[xr + i];
      const x2 = x[xr + i + half];
      out[or + i] = x1 * c - x2 * s;
      out[or + i + half] = x2 * c + x1 * s;
    }
  }
}
