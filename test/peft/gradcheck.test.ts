/**
 * Float64 finite-difference checks of the gradients through every injected layer: LoRA on Linear and on
 * GPT-2's Conv1D (fan_in_fan_out), DoRA (with its weight norm held constant, see below), IA3 (output and
 * feed-forward input scaling), bottleneck adapters (after and parallel), and prefix / prompt tuning through a
 * whole tiny GPT-2 built in float64.
 */
import { describe, it } from 'vitest';
import { Conv1D, Linear } from '../../src/nn/layers.js';
import { withMatrixDtype, type Module } from '../../src/nn/module.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { createRng, fromArray, noGrad, type Tensor } from '../../src/tensor/index.js';
import { LoraLayer } from '../../src/peft/lora/layer.js';
import { IA3Layer } from '../../src/peft/ia3/layer.js';
import { BottleneckAdapter, BottleneckWrapper } from '../../src/peft/bottleneck/layer.js';
import { injectPrefix } from '../../src/peft/prefix/model.js';
import { injectPrompt } from '../../src/peft/prompt/model.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

function randomize(m: Module, seed: number): void {
  const rng = createRng(seed, 'gc-init');
  for (const p of m.parameters()) rng.fillUniform(p.data as Float64Array, -0.5, 0.5);
}

function base(kind: 'linear' | 'conv1d', seed: number): Linear | Conv1D {
  const b = withMatrixDtype('f64', () => (kind === 'linear' ? new Linear(5, 6) : new Conv1D(5, 6)));
  randomize(b, seed);
  b.requiresGrad_(false);
  return b;
}

const lora = { r: 3, loraAlpha: 6, loraDropout: 0, useRslora: false, initLoraWeights: false as const, seed: 1, stream: 'gc' };

describe('gradient checks through the injected layers (float64)', () => {
  for (const kind of ['linear', 'conv1d'] as const) {
    it(`LoRA on ${kind}`, () => {
      const layer = new LoraLayer(base(kind, 2));
      layer.addAdapter('default', { ...lora, useDora: false });
      const A = layer.lora_A.get('default')!.weight;
      const B = layer.lora_B.get('default')!.weight;
      gradcheck(`lora ${kind}`, (x) => layer.forward(x), [rnd([2, 3, 5], 3), A, B]);
    });

    it(`DoRA on ${kind} (weight norm held constant, as DoRA §4.3 / PEFT detach it)`, () => {
      const layer = new LoraLayer(base(kind, 4));
      layer.addAdapter('default', { ...lora, useDora: true });
      const A = layer.lora_A.get('default')!.weight;
      const B = layer.lora_B.get('default')!.weight;
      const m = layer.lora_magnitude_vector.get('default')!.weight;
      const s = layer.scaling('default');
      // The layer treats ‖W + s·BA‖ as a constant in backward. Finite differences would see it move with A and
      // B, so each perturbed evaluation rescales the magnitude by ‖·‖now/‖·‖0: m/‖·‖ is then evaluated with the
      // norm fixed at its unperturbed value n0, which is the function whose gradient the layer computes.
      const W = ((layer.base_layer as Linear).weight.toFlat() as Float64Array).slice();
      const rowNorms = (): Float64Array =>
        noGrad(() => {
          const w = fromArray(W, (layer.base_layer as Linear).weight.shape as number[]);
          const wOutIn = kind === 'conv1d' ? w.transpose(0, 1) : w;
          return wOutIn.add(B.matmul(A).mul(s)).square().sum(1).sqrt().toFlat() as Float64Array;
        });
      const n0 = rowNorms();
      const f = (x: Tensor): Tensor => {
        const now = rowNorms();
        const md = m.data as Float64Array;
        const keep = md.slice();
        for (let i = 0; i < md.length; i++) md[i] = keep[i]! * (now[i]! / n0[i]!);
        const y = layer.forward(x);
        md.set(keep);
        return y;
      };
      gradcheck(`dora ${kind}`, f, [rnd([2, 3, 5], 5), A, B, m]);
    });

    for (const ff of [false, true]) {
      it(`IA3 on ${kind}, ${ff ? 'feed-forward (input)' : 'output'} scaling`, () => {
        const layer = new IA3Layer(base(kind, 6), ff);
        layer.addAdapter('default', false, 7);
        gradcheck(`ia3 ${kind} ${ff}`, (x) => layer.forward(x), [rnd([2, 3, 5], 8), layer.ia3_l.get('default')!]);
      });
    }
  }

  for (const placement of ['after', 'parallel'] as const) {
    it(`bottleneck adapter, ${placement}`, () => {
      const sub = withMatrixDtype('f64', () => new Linear(6, 6));
      randomize(sub, 9);
      sub.requiresGrad_(false);
      const w = new BottleneckWrapper(sub, placement, 2);
      const a = new BottleneckAdapter(6, 3, 'silu', 0, { seed: 1, stream: 'gc', upInit: 'normal', dtype: 'f64' });
      randomize(a, 10);
      w.adapters.set('default', a);
      w.activeAdapters = ['default'];
      gradcheck(`bottleneck ${placement}`, (x) => w.forward(x), [rnd([2, 3, 6], 11), a.adapter_down.weight, a.adapter_down.bias!, a.adapter_up.weight, a.adapter_up.bias!]);
    });
  }

  const tiny = (): GPT2 => {
    const g = withMatrixDtype('f64', () => new GPT2({ vocabSize: 11, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2 }));
    randomize(g, 12);
    return g;
  };
  const ids = fromArray(Int32Array.from([1, 4, 2, 7, 3, 9]), [2, 3]);

  it('prefix tuning with projection, through a whole float64 GPT-2', () => {
    const g = tiny();
    const enc = injectPrefix(g, { numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 5 });
    const [l1, , l2] = enc.transform as [Linear, Module, Linear];
    gradcheck('prefix', () => g.forward(ids), [enc.embedding.weight, l1.weight, l1.bias!, l2.weight, l2.bias!], { tol: 1e-5 });
  });

  it('prompt tuning, through a whole float64 GPT-2', () => {
    const g = tiny();
    const enc = injectPrompt(g, { numVirtualTokens: 2 });
    gradcheck('prompt', () => g.forward(ids), [enc.embedding.weight], { tol: 1e-5 });
  });

  it('LoRA injected in every linear of a float64 GPT-2', () => {
    const g = tiny();
    const { layers } = injectLora(g, { r: 2, loraAlpha: 4, targetModules: 'all-linear', initLoraWeights: false });
    const ps = layers.flatMap(([, l]) => [l.lora_A.get('default')!.weight, l.lora_B.get('default')!.weight]);
    gradcheck('lora model', () => g.forward(ids), ps.slice(0, 4), { tol: 1e-5 });
  });
});
