/**
 * Quantized weights of a Linear layer, always in torch.nn.Linear's orientation [out, in] (the layout bitsandbytes
 * quantizes; a GPT-2 Conv1D weight [in, out] is transposed first, as transformers does before `Params4bit`).
 *
 *  - `Params4bit`: NF4 (or FP4) codes packed two a byte, one absmax per block, optionally double-quantized —
 *    bitsandbytes' `Params4bit` + `QuantState`.
 *  - `Int8Weight`: one int8 per weight and one float32 absmax per output row (bitsandbytes' LLM.int8 weight
 *    storage, `weight` + `SCB`), used weight-only: there is no outlier decomposition (bitsandbytes' threshold
 *    path that keeps outlier input columns in fp16); the whole weight is dequantized and the matmul runs in
 *    float32.
 *
 * Both expose `dequantizeInto(dst)`: the one boundary the forward pass uses, so a fused native kernel can take
 * its place without touching the modules.
 */
import {
  dequantize4bitInto,
  dequantizeNestedAbsmax,
  doubleQuantize,
  quantize4bit,
  type FloatArray,
  type NestedAbsmax,
} from './blockwise.js';
import { fourBitCode, type FourBitType } from './codes.js';
import type { GemmQuantB } from '../../tensor/backend.js';

const f32 = Math.fround;

export type QuantType = FourBitType | 'int8';

export interface QuantizedWeight {
  readonly kind: QuantType;
  /** [out, in]. */
  readonly shape: readonly [number, number];
  /** Write the float32 weight [out, in], row-major, into dst (at least out·in long). */
  dequantizeInto(dst: FloatArray): void;
  /**
   * The memory this weight holds: its own bytes, and the tables it shares with other layers (code books),
   * listed so a model-wide count includes each shared table once.
   */
  memory(): { own: number; shared: ArrayBufferView[] };
}

/** Bytes of a weight counted alone (its shared tables included). */
export function weightBytes(w: QuantizedWeight): number {
  const m = w.memory();
  return m.own + m.shared.reduce((s, t) => s + t.byteLength, 0);
}

export interface Quantize4bitOptions {
  type?: FourBitType;
  /** Elements per absmax block (bitsandbytes: 64 by default; 32…4096, powers of two, are what it accepts). */
  blockSize?: number;
  /** Quantize the absmaxes too (bitsandbytes' `compress_statistics`, QLoRA's double quantization). */
  doubleQuant?: boolean;
  /** The dtype name recorded in the quant state (`"float32"`, `"bfloat16"`, `"float16"`): the dtype the
   * weight had before quantization, which is what dequantization returns in bitsandbytes. */
  dtype?: string;
}

export class Params4bit implements QuantizedWeight {
  /** The exact bytes of the `quant_state.bitsandbytes__*` JSON this weight was loaded with, re-saved as is. */
  rawQuantState: Uint8Array | null = null;
  /** A double-quantized weight's absmaxes decoded to f32 on first use by the fused GEMM (see gemmOperand). */
  private absmaxCache: Float32Array | null = null;

  constructor(
    /** ceil(out·in / 2) bytes. */
    readonly packed: Uint8Array,
    readonly shape: readonly [number, number],
    readonly kind: FourBitType,
    readonly blockSize: number,
    /** The 16-value code (`quant_map`). */
    readonly code: Float32Array,
    /** float32 absmax per block, or null when double-quantized. */
    readonly absmax: Float32Array | null,
    readonly nested: NestedAbsmax | null,
    readonly dtype = 'float32',
  ) {
    const n = shape[0] * shape[1];
    if (packed.length !== Math.ceil(n / 2)) {
      throw new Error(`Params4bit: ${packed.length} packed bytes for a [${shape.join(', ')}] weight (need ${Math.ceil(n / 2)})`);
    }
    const blocks = Math.ceil(n / blockSize);
    const have = absmax ? absmax.length : nested!.qabsmax.length;
    if (have !== blocks) throw new Error(`Params4bit: ${have} absmax values for ${blocks} blocks of ${blockSize}`);
    if (code.length !== 16) throw new Error(`Params4bit: the quant map has ${code.length} values, not 16`);
    if (nested && nested.absmax2.length !== Math.ceil(blocks / nested.blockSize2)) {
      throw new Error(`Params4bit: ${nested.absmax2.length} nested absmax values for ${blocks} blocks of ${nested.blockSize2}`);
    }
  }

  static quantize(w: ArrayLike<number>, shape: readonly [number, number], opts: Quantize4bitOptions = {}): Params4bit {
    const type = opts.type ?? 'nf4';
    const blockSize = opts.blockSize ?? 64;
    if (w.length !== shape[0] * shape[1]) throw new Error(`quantize: ${w.length} values for shape [${shape.join(', ')}]`);
    const { packed, absmax } = quantize4bit(w, blockSize, type);
    const nested = opts.doubleQuant ? doubleQuantize(absmax) : null;
    return new Params4bit(packed, [shape[0], shape[1]], type, blockSize, fourBitCode(type), nested ? null : absmax, nested, opts.dtype);
  }

  get numel(): number {
    return this.shape[0] * this.shape[1];
  }

  /** The float32 absmax of every block (decoded from the double quantization when nested). */
  absmaxValues(): Float32Array {
    return this.absmax ?? dequantizeNestedAbsmax(this.nested!);
  }

  dequantizeInto(dst: FloatArray): void {
    dequantize4bitInto(dst, this.packed, this.absmax ?? this.nested!, this.numel, this.blockSize, this.code);
  }

  /**
   * This weight as the B operand of Backend.gemm (`bq`): the packed codes, the code book and the f32 absmax of
   * every block, read in place by the fused dequantizing kernels. Element (o, i) of the [out, in] weight is flat
   * element o·in + i, so x·Wᵀ is transB with ldb = in and dy·W is not transB with ldb = in. A double-quantized
   * weight decodes its absmaxes once and keeps them (numel / blockSize floats, 4 bytes a block: 1/16 of a
   * float per weight at block size 64 — not a weight copy); `memory()` counts the stored format only.
   */
  gemmOperand(): GemmQuantB {
    const absmax = this.absmax ?? (this.absmaxCache ??= dequantizeNestedAbsmax(this.nested!));
    return { format: this.kind, packed: this.packed, code: this.code, absmax, blockSize: this.blockSize, off: 0 };
  }

  memory(): { own: number; shared: ArrayBufferView[] } {
    const own =
      this.packed.byteLength +
      (this.absmax ? this.absmax.byteLength : this.nested!.qabsmax.byteLength + this.nested!.absmax2.byteLength + 4);
    const shared: ArrayBufferView[] = [this.code];
    if (this.nested) shared.push(this.nested.code2);
    return { own, shared };
  }
}

/** Round half to even, as torch.round and CUDA's __float2int_rn. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class Int8Weight implements QuantizedWeight {
  readonly kind = 'int8' as const;
  constructor(
    /** out·in int8 values, row-major [out, in]. */
    readonly q: Int8Array,
    /** float32 absmax of each output row (bitsandbytes' `SCB`). */
    readonly scb: Float32Array,
    readonly shape: readonly [number, number],
  ) {
    if (q.length !== shape[0] * shape[1]) throw new Error(`Int8Weight: ${q.length} values for shape [${shape.join(', ')}]`);
    if (scb.length !== shape[0]) throw new Error(`Int8Weight: ${scb.length} row scales for ${shape[0]} rows`);
  }

  /**
   * bitsandbytes' `int8_vectorwise_quant` without outliers: q = round(w · (127 / rowAbsmax)), float32, halves
   * to even. A zero row stays zero.
   */
  static quantize(w: ArrayLike<number>, shape: readonly [number, number]): Int8Weight {
    const [rows, cols] = shape;
    if (w.length !== rows * cols) throw new Error(`quantize: ${w.length} values for shape [${shape.join(', ')}]`);
    const q = new Int8Array(rows * cols);
    const scb = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let m = 0;
      for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(f32(w[r * cols + c]!)));
      scb[r] = m;
      if (m === 0) continue;
      const scale = f32(127 / m);
      for (let c = 0; c < cols; c++) {
        const v = roundHalfEven(f32(f32(w[r * cols + c]!) * scale));
        q[r * cols + c] = Math.max(-127, Math.min(127, v));
      }
    }
    return new Int8Weight(q, scb, [rows, cols]);
  }

  /** bitsandbytes' `int8_vectorwise_dequant`: q · SCB · (1/127), each step in float32. */
  dequantizeInto(dst: FloatArray): void {
    const [rows, cols] = this.shape;
    const inv127 = f32(1 / 127);
    for (let r = 0; r < rows; r++) {
      const s = this.scb[r]!;
      for (let c = 0; c < cols; c++) dst[r * cols + c] = f32(f32(this.q[r * cols + c]! * s) * inv127);
    }
  }

  memory(): { own: number; shared: ArrayBufferView[] } {
    return { own: this.q.byteLength + this.scb.byteLength, shared: [] };
  }
}

export interface QuantizeWeightOptions extends Omit<Quantize4bitOptions, 'type'> {
  type?: QuantType;
  /**
   * How `weights` are laid out: 'out_in' (torch.nn.Linear, the default) or 'in_out' (GPT-2's Conv1D, as stored
   * in its checkpoints; transposed to [out, in] before quantizing, as transformers does).
   */
  layout?: 'out_in' | 'in_out';
  /** Memory for the transpose of an 'in_out' weight (at least out·in long), reused across layers by loaders. */
  scratch?: Float32Array;
}

/**
 * Quantize one Linear weight as it is read from a checkpoint, so a loader never needs the whole model in fp32.
 * `shape` is the stored shape: [out, in] for 'out_in', [in, out] for 'in_out'.
 */
export function quantizeLinearWeight(
  weights: ArrayLike<number>,
  shape: readonly [number, number],
  opts: QuantizeWeightOptions = {},
): Params4bit | Int8Weight {
  let w = weights;
  let outIn: [number, number] = [shape[0], shape[1]];
  if (opts.layout === 'in_out') {
    const [inF, outF] = shape;
    const t = opts.scratch && opts.scratch.length >= inF * outF ? opts.scratch.subarray(0, inF * outF) : new Float32Array(inF * outF);
    for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) t[o * inF + i] = weights[i * outF + o]!;
    w = t;
    outIn = [outF, inF];
  }
  if ((opts.type ?? 'nf4') === 'int8') return Int8Weight.quantize(w, outIn);
  return Params4bit.quantize(w, outIn, { ...opts, type: (opts.type ?? 'nf4') as FourBitType });
}

/** A fresh float32 [out, in] copy of a quantized weight. */
export function dequantizeWeight(w: QuantizedWeight): Float32Array {
  const out = new Float32Array(w.shape[0] * w.shape[1]);
  w.dequantizeInto(out);
  return out;
}
