import path from 'node:path';
import { readSafetensors, toFloat32, toInt32 } from '../../src/io/safetensors.js';
import { fromArray, type Tensor } from '../../src/tensor/index.js';
import { FIXTURES } from './paths.js';

/** A fixture's reference tensors: floats as f32 tensors, integers as i32 tensors. */
export function readReference(folder: string, file = 'reference.safetensors'): Map<string, Tensor> {
  const { tensors } = readSafetensors(path.join(FIXTURES, folder, file));
  const out = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    const isInt = t.dtype === 'I64' || t.dtype === 'I32';
    const data = isInt ? toInt32(t.data, t.dtype, name) : new Float32Array(toFloat32(t.data, t.dtype));
    out.set(name, fromArray(data, t.shape));
  }
  return out;
}

export function get(m: Map<string, Tensor>, k: string): Tensor {
  const t = m.get(k);
  if (!t) throw new Error(`fixture has no tensor "${k}"`);
  return t;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

/** ‖a − b‖ / ‖b‖ */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
