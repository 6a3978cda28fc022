import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { loadGPT2, normalizeGpt2Key } from '../../src/models/load.js';
import { Linear, LayerNorm } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { AdamW, SGD, clipGradNorm, decayGroups } from '../../src/nn/optim.js';
import { fromArray, tensor } from '../../src/tensor/index.js';
import { FIXTURES } from '../helpers/paths.js';

const tiny = { vocabSize: 16, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2 };

describe('Module', () => {
  it('names parameters like Hugging Face and lists a tied head once', () => {
    const m = new GPT2(tiny);
    const names = m.namedParameters().map(([n]) => n);
    expect(names[0]).toBe('transformer.wte.weight');
    expect(names).toContain('transformer.h.1.attn.c_attn.weight');
    expect(names).toContain('transformer.h.0.mlp.c_proj.bias');
    expect(names).not.toContain('lm_head.weight');
    expect(m.lm_head.weight).toBe(m.transformer.wte.weight);
    const untied = new GPT2({ ...tiny, tieWordEmbeddings: false });
    expect(untied.namedParameters().map(([n]) => n)).toContain('lm_head.weight');
  });
  it('loadStateDict names missing, unexpected and misshapen keys', () => {
    const m = new GPT2(tiny);
    const sd = m.stateDict();
    sd.delete('transformer.ln_f.bias');
    sd.set('transformer.extra', tensor([1]));
    expect(() => m.loadStateDict(sd)).toThrow(/missing keys: transformer\.ln_f\.bias; unexpected keys: transformer\.extra/);
    const sd2 = new Map(m.stateDict());
    sd2.set('transformer.wpe.weight', tensor([[1, 2]]));
    expect(() => m.loadStateDict(sd2)).toThrow(/"transformer\.wpe\.weight" has shape \[1, 2\], the model expects \[8, 8\]/);
  });
  it('train()/eval() reach every submodule; requiresGrad_ freezes', () => {
    const m = new GPT2(tiny).eval();
    expect(m.namedModules().every(([, x]) => !x.training)).toBe(true);
    m.requiresGrad_(false);
    expect(m.parameters().every((p) => !p.requiresGrad)).toBe(true);
  });
  it('GPT-2 keys load with or without the transformer. prefix; mask buffers are skipped', () => {
    expect(normalizeGpt2Key('h.0.attn.c_attn.weight')).toBe('transformer.h.0.attn.c_attn.weight');
    expect(normalizeGpt2Key('transformer.wte.weight')).toBe('transformer.wte.weight');
    expect(normalizeGpt2Key('h.3.attn.bias')).toBeNull();
    expect(normalizeGpt2Key('h.3.attn.masked_bias')).toBeNull();
    expect(normalizeGpt2Key('h.3.attn.c_attn.bias')).toBe('transformer.h.3.attn.c_attn.bias');
    const m = loadGPT2(path.join(FIXTURES, 'gpt2-tiny'));
    expect(m.config.nLayer).toBe(2);
  });
  it('a Linear behaves as x·Wᵀ + b', () => {
    const l = new Linear(2, 3);
    l.weight.buf.set([1, 2, 3, 4, 5, 6]);
    l.bias!.buf.set([1, 1, 1]);
    expect(l.forward(tensor([[1, 1]])).toArray()).toEqual([[4, 8, 12]]);
    const ln = new LayerNorm(2);
    expect(ln.forward(tensor([[1, 3]])).toArray()).toEqual([[expect.closeTo(-1, 4), expect.closeTo(1, 4)]]);
    class Holder extends Module {
      a = new Linear(2, 2);
      list = [new Linear(2, 1, { bias: false })];
    }
    expect(new Holder().namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias', 'list.0.weight']);
  });
});

describe('optimizers', () => {
  it('SGD with momentum follows torch.optim.SGD by hand', () => {
    const p = fromArray(Float64Array.from([1, -2]), [2]).requiresGrad_();
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    const grads = [[0.5, 1], [-1, 2]];
    let buf = [0, 0];
    const w = [1, -2];
    grads.forEach((g, step) => {
      p.grad = fromArray(Float64Array.from(g), [2]);
      opt.step();
      for (let i = 0; i < 2; i++) {
        const d = g[i]! + 0.01 * w[i]!;
        buf[i] = step === 0 ? d : 0.9 * buf[i]! + d;
        w[i] = w[i]! - 0.1 * buf[i]!;
      }
    });
    expect(p.toArray()).toEqual([expect.closeTo(w[0]!, 12), expect.closeTo(w[1]!, 12)]);
    buf = [];
  });
  it('AdamW state survives a save/restore round trip bit for bit', () => {
    const mk = () => fromArray(Float32Array.from([0.5, -0.25, 2]), [3]).requiresGrad_();
    const a = mk(),
      b = mk();
    const oa = new AdamW([a], { lr: 0.1 });
    const gs = [[1, 2, 3], [-1, 0.5, 0], [0.3, 0.3, -2]];
    a.grad = fromArray(Float32Array.from(gs[0]!), [3]);
    oa.step();
    const ob = new AdamW([b], { lr: 0.1 });
    b.buf.set(a.buf);
    ob.loadStateDict(JSON.parse(JSON.stringify(oa.stateDict(), (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v))));
    for (const g of gs.slice(1)) {
      a.grad = fromArray(Float32Array.from(g), [3]);
      b.grad = fromArray(Float32Array.from(g), [3]);
      oa.step();
      ob.step();
    }
    expect(Array.from(b.buf)).toEqual(Array.from(a.buf));
  });
  it('clipGradNorm scales to the max norm and returns the norm before clipping', () => {
    const p = fromArray(Float64Array.from([0, 0]), [2]).requiresGrad_();
    const q = fromArray(Float64Array.from([0]), [1]).requiresGrad_();
    p.grad = fromArray(Float64Array.from([3, 0]), [2]);
    q.grad = fromArray(Float64Array.from([4]), [1]);
    expect(clipGradNorm([p, q], 1)).toBeCloseTo(5, 12);
    const f = 1 / (5 + 1e-6);
    expect(p.grad.toArray()).toEqual([expect.closeTo(3 * f, 12), 0]);
    expect(q.grad.toArray()).toEqual([expect.closeTo(4 * f, 12)]);
    expect(clipGradNorm([p, q], 10)).toBeCloseTo(5 * f, 9);
  });
  it('decay groups put matrices in decay and vectors in no-decay', () => {
    const groups = decayGroups(new GPT2(tiny), 0.1);
    expect(groups[0]!.params.every((p) => p.ndim === 2)).toBe(true);
    expect(groups[1]!.params.every((p) => p.ndim === 1)).toBe(true);
    expect(groups[1]!.weightDecay).toBe(0);
  });
});
