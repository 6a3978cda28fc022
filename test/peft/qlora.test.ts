/**
 * LoRA on a quantized base (QLoRA): the LoRA layer wraps the NF4 QuantLinear through the same forward(x), the
 * 4-bit weights stay untouched by training, and a merge asks for dequantization first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { AdamW } from '../../src/nn/optim.js';
import { crossEntropy, noGrad, type Tensor } from '../../src/tensor/index.js';
import { quantizeModel, quantizedModules } from '../../src/peft/quant/index.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { mergeAdapters } from '../../src/peft/merge.js';
import { saveAdapter } from '../../src/peft/save.js';
import { loadAdapter } from '../../src/peft/load.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const dir = path.join(FIXTURES, 'gpt2-tiny');
const ref = readReference('gpt2-tiny');
const flat = (t: Tensor): Float32Array => t.toFlat() as Float32Array;

function nf4(): ReturnType<typeof loadModel> {
  const m = loadModel(dir);
  quantizeModel(m);
  return m;
}

describe('LoRA on an NF4 base', () => {
  it('starts at the quantized model, trains only the adapter, keeps the 4-bit weights, saves and reloads', () => {
    const ids = get(ref, 'input_ids');
    const model = nf4();
    const q0 = flat(noGrad(() => model.forward(ids)));
    const codes = quantizedModules(model).map(([, q]) => Buffer.from((q.qweight as unknown as { packed: Uint8Array }).packed).toString("hex"));
    const { layers, fanInFanOut } = injectLora(model, { r: 4, loraAlpha: 8, targetModules: ['c_attn', 'c_fc'] });
    expect(fanInFanOut).toBe(true); // the layers were GPT-2 Conv1Ds before quantization
    expect(layers.every(([, l]) => l.base_layer.constructor.name === 'QuantLinear')).toBe(true);
    expect(maxAbsDiff(flat(noGrad(() => model.forward(ids))), q0)).toBe(0);
    const opt = new AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-2 });
    for (let s = 0; s < 2; s++) {
      model.zeroGrad();
      crossEntropy(model.forward(ids), get(ref, 'labels')).backward();
      opt.step();
    }
    expect(quantizedModules(model).map(([, q]) => Buffer.from((q.qweight as unknown as { packed: Uint8Array }).packed).toString("hex"))).toEqual(codes);
    const trained = flat(noGrad(() => model.forward(ids)));
    expect(maxAbsDiff(trained, q0)).toBeGreaterThan(0);
    expect(() => mergeAdapters(model)).toThrow(/dequantize/);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-'));
    saveAdapter(model, out);
    const fresh = nf4();
    loadAdapter(fresh, out);
    expect(maxAbsDiff(flat(noGrad(() => fresh.forward(ids))), trained)).toBe(0);
    fs.rmSync(out, { recursive: true });
  });
});
