/**
 * QuantLinear (exported as Linear4bit too): a frozen Linear layer whose weight is stored quantized — NF4/FP4
 * (bitsandbytes' `Linear4bit`) or int8 per row (weight-only LLM.int8 storage) — for QLoRA's base model.
 *
 * forward(x) = x · Wᵀ + b. For an NF4/FP4 weight and an f32 input the GEMM reads the 4-bit weight itself
 * (`Backend.gemm` with `bq`, from `Params4bit.gemmOperand()`): the native kernels dequantize in registers (a few
 * rows of x: the decode GEMV) or while packing B (the GEMM), so no float32 copy of the weight exists, and the
 * values are exactly dequantizeInto's. Backward does the same for dx = dy · W. Otherwise (int8 weights, f64
 * inputs for gradient checks, bf16 autocast, which rounds the dequantized weight) W is dequantized through
 * `QuantizedWeight.dequantizeInto(dst)` into a pooled scratch buffer (the same buffer comes back for the next
 * layer of that size) for the GEMM of `linear()`.
 *
 * Backward returns only the input gradient (the LoRA layer on top needs dx) and the bias gradient if the bias
 * was unfrozen; the quantized weight takes none — bitsandbytes' MatMul4Bit does the same.
 */
import { Module, param } from '../../nn/module.js';
import { needsGrad, noGrad, record } from '../../tensor/autograd.js';
import { autocastMode } from '../../tensor/autocast.js';
import { backendFor } from '../../tensor/backends.js';
import { linear } from '../../tensor/nn_ops.js';
import { empty, type Tensor } from '../../tensor/tensor.js';
import type { FloatArray } from './blockwise.js';
import { Params4bit, weightBytes, type QuantizedWeight } from './weight.js';

export class QuantLinear extends Module {
  /** A float32 parameter, frozen by default (QLoRA trains only the adapters). */
  bias: Tensor | null;

  constructor(
    /** The quantized weight, [out, in]. */
    readonly qweight: QuantizedWeight,
    bias: Tensor | Float32Array | null = null,
    /**
     * The layer this replaced: 'out_in' for torch.nn.Linear, 'in_out' for GPT-2's Conv1D. The stored weight is
     * [out, in] either way; this only says which layer `dequantizeModule` gives back and how the weight is
     * laid out in an unquantized checkpoint.
     */
    readonly sourceLayout: 'out_in' | 'in_out' = 'out_in',
  ) {
    super();
    const out = qweight.shape[0];
    if (bias instanceof Float32Array) {
      if (bias.length !== out) throw new Error(`QuantLinear: bias has ${bias.length} values, the weight ${out} rows`);
      this.bias = param([out], { init: bias, requiresGrad: false });
    } else if (bias) {
      if (bias.ndim !== 1 || bias.shape[0] !== out) throw new Error(`QuantLinear: bias ${bias.describe()} does not match ${out} outputs`);
      this.bias = bias;
      if (bias.isLeaf) bias.requiresGrad = false;
    } else {
      this.bias = null;
    }
  }

  get inFeatures(): number {
    return this.qweight.shape[1];
  }
  get outFeatures(): number {
    return this.qweight.shape[0];
  }
  get quantType(): QuantizedWeight['kind'] {
    return this.qweight.kind;
  }

  /** Write the dequantized weight [out, in] into dst (the boundary a fused kernel replaces). */
  dequantizeInto(dst: FloatArray): void {
    this.qweight.dequantizeInto(dst);
  }

  /** Bytes the quantized weight holds (shared code tables included); the bias is not counted. */
  weightBytes(): number {
    return weightBytes(this.qweight);
  }

  /** The weight dequantized into a pooled scratch tensor [out, in] of x's float dtype; dispose() it after use. */
  private scratchWeight(dtype: 'f32' | 'f64'): Tensor {
    const w = empty([this.outFeatures, this.inFeatures], dtype);
    this.qweight.dequantizeInto(w.buf);
    return w;
  }

  forward(x: Tensor): Tensor {
    if (x.dtype !== 'f32' && x.dtype !== 'f64') throw new Error(`QuantLinear: input must be f32 or f64, got ${x.describe()}`);
    if (x.dtype === 'f32' && this.qweight instanceof Params4bit && autocastMode() !== 'bf16') return this.forwardFused(x, this.qweight);
    const dtype = x.dtype;
    const b = this.bias;
    const w = this.scratchWeight(dtype);
    let y: Tensor;
    try {
      y = noGrad(() => linear(x.detach(), w, b ? (b.dtype === dtype ? b.detach() : b.detach().to(dtype)) : null, 'out_in'));
    } finally {
      w.dispose();
    }
    if (!needsGrad(x, b)) return y;
    return record(y, 'quant_linear', [x, b], (g) => {
      let gx: Tensor | null = null;
      if (x.requiresGrad) {
        const w2 = this.scratchWeight(g.dtype as 'f32' | 'f64');
        try {
          // dX = dY · W: W [out, in] read as an [in', out'] = [out, in] 'in_out' weight.
          gx = linear(g, w2, null, 'in_out');
        } finally {
          w2.dispose();
        }
      }
      let gb: Tensor | null = null;
      if (b?.requiresGrad) {
        const outF = g.shape[g.ndim - 1]!;
        gb = g.contiguous().reshape(g.size / outF, outF).sum(0);
        if (gb.dtype !== b.dtype) gb = gb.to(b.dtype);
      }
      return [gx, gb];
    });
  }

  /**
   * x · Wᵀ + b and dx = dy · W with the 4-bit weight read in place by the GEMM (see the module comment). The bias
   * is added by starting the product from it (beta = 1).
   */
  private forwardFused(x: Tensor, q: Params4bit): Tensor {
    const [outF, inF] = q.shape;
    if ((x.shape[x.ndim - 1] ?? 1) !== inF) throw new Error(`QuantLinear: input ${x.describe()} does not have ${inF} features`);
    const bq = q.gemmOperand();
    const b = this.bias;
    const xc = x.contiguous();
    const N = x.size / inF;
    const y = empty([...x.shape.slice(0, -1), outF], 'f32');
    const bc = b ? (b.dtype === 'f32' ? b.detach() : b.detach().to('f32')).contiguous() : null;
    backendFor(y.buf).gemm({
      transA: false, transB: true, M: N, N: outF, K: inF, alpha: 1, beta: 0,
      a: xc.buf, aOff: xc.offset, lda: inF, strideA: 0,
      b: y.buf, bOff: 0, ldb: inF, strideB: 0,
      c: y.buf, cOff: 0, ldc: outF, strideC: 0, batch: 1, bq,
      ...(bc ? { bias: bc.buf, biasOff: bc.offset } : {}),
    });
    if (!needsGrad(x, b)) return y;
    return record(y, 'quant_linear', [x, b], (g) => {
      let gx: Tensor | null = null;
      if (x.requiresGrad) {
        // dX [N, in] = dY [N, out] · W [out, in]: W read as a K×N (out × in) B, not transposed.
        const gc = g.contiguous();
        gx = empty([...g.shape.slice(0, -1), inF], 'f32');
        backendFor(gx.buf).gemm({
          transA: false, transB: false, M: N, N: inF, K: outF, alpha: 1, beta: 0,
          a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
          b: gx.buf, bOff: 0, ldb: inF, strideB: 0,
          c: gx.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1, bq,
        });
      }
      let gb: Tensor | null = null;
      if (b?.requiresGrad) {
        gb = g.contiguous().reshape(N, outF).sum(0);
        if (gb.dtype !== b.dtype) gb = gb.to(b.dtype);
      }
      return [gx, gb];
    });
  }
}

export { QuantLinear as Linear4bit };
