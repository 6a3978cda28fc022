/**
 * The pure-TypeScript reference backend: the twin every native kernel is tested against, and the backend that
 * runs float64 for finite-difference gradient checks. One file per theme; this one only assembles them.
 */
import type { Backend } from '../backend.js';
import { geluBackward, geluForward, siluBackward, siluForward, softmaxBackward, softmaxForward } from './activation.js';
import { attentionBackward, attentionForward } from './attention.js';
import { affine, axpy, binary, copyStrided, fill, unary } from './elementwise.js';
import { embeddingBackward, embeddingForward } from './embedding.js';
import { gemm, gemmArgmax } from './gemm.js';
import { crossEntropyBackward, crossEntropyForward } from './loss.js';
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from './norm.js';
import { adamw } from './optim.js';
import { reduceMax, reduceSum, sumSquares } from './reduce.js';
import { rope } from './rope.js';

export const tsBackend: Backend = {
  name: 'ts',
  simd: 'none',
  // Single-threaded, so trivially reproducible run to run.
  threads: 1,
  gemm,
  gemmArgmax,
  unary,
  binary,
  affine,
  copyStrided,
  axpy,
  fill,
  reduceSum,
  reduceMax,
  layerNormForward,
  layerNormBackward,
  rmsNormForward,
  rmsNormBackward,
  geluForward,
  geluBackward,
  siluForward,
  siluBackward,
  softmaxForward,
  softmaxBackward,
  crossEntropyForward,
  crossEntropyBackward,
  embeddingForward,
  embeddingBackward,
  attentionForward,
  attentionBackward,
  rope,
  adamw,
  sumSquares,
};

export { erf, erfc } from './special.js';
