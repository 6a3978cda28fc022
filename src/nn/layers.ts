/** The basic layers. Initialization is the caller's (models init their own weights from a seeded stream). */
import { embedding, layerNorm, linear, rmsNorm } from '../tensor/nn_ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, param } from './module.js';

/**
 * x + branch, the residual connection of a transformer block, then the branch's memory freed at once when nothing
 * saved it for backward (an add saves neither input). Inside a training step's tidy scope the branch output would
 * otherwise live until the step ends: GPT-2 124M at 4×128 tokens carries 37 MB of such outputs (two per layer)
 * through its whole backward pass.
 */
export function residual(x: Tensor, branch: Tensor): Tensor {
  const y = x.add(branch);
  if (branch.storage !== x.storage) branch.disposeIfUnsaved();
  return y;
}

/** y = x·Wᵀ + b with W [out, in], as torch.nn.Linear. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.weight = param([outFeatures, inFeatures]);
    this.bias = opts.bias ?? true ? param([outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, 'out_in');
  }
}

/** GPT-2's Conv1D: y = x·W + b with W stored [in, out] (Hugging Face's layout, kept so checkpoints load as is). */
export class Conv1D extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.weight = param([inFeatures, outFeatures]);
    this.bias = param([outFeatures]);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, 'in_out');
  }
}

export class Embedding extends Module {
  weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
  ) {
    super();
    this.weight = param([numEmbeddings, dim]);
  }
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = param([dim], { init: new Float32Array(dim).fill(1) });
    this.bias = param([dim]);
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  weight: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = param([dim], { init: new Float32Array(dim).fill(1) });
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
