/**
 * Checkpoint folders: quantize-on-load from an ordinary folder, save as a "-bnb-4bit" folder with its
 * quantization_config, load that back as stored, and drop the quantization config after dequantizing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGPT2, loadModel } from '../../../src/models/load.js';
import { hfConfigOf } from '../../../src/models/save.js';
import { Params4bit, dequantizeModel, loadQuantizedModel, quantizeModel, quantizedModules, saveQuantizedModel } from '../../../src/peft/quant/index.js';
import { noGrad } from '../../../src/tensor/index.js';
import { FIXTURES } from '../../helpers/paths.js';
import { get, readReference, relErr } from '../../helpers/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-qfolder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const gpt2Dir = path.join(FIXTURES, 'gpt2-tiny');
const ids = get(readReference('gpt2-tiny'), 'input_ids');

describe('quantized checkpoint folders', () => {
  it('loads an ordinary GPT-2 folder quantized, saves it as -bnb-4bit, and loads that back as stored', () => {
    const { model, report } = loadQuantizedModel(gpt2Dir, { type: 'nf4', doubleQuant: true });
    expect(report.quantized.length).toBe(8);
    expect(report.prequantized).toEqual([]);
    const ref = loadGPT2(gpt2Dir);
    quantizeModel(ref, { type: 'nf4', doubleQuant: true });
    const logits = noGrad(() => model.forward(ids).toFloat32Array());
    expect([...logits]).toEqual([...noGrad(() => ref.forward(ids).toFloat32Array())]);

    const dir = path.join(tmp, 'gpt2-tiny-bnb-4bit');
    saveQuantizedModel(model, dir);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.model_type).toBe('gpt2');
    expect(cfg.quantization_config).toMatchObject({
      quant_method: 'bitsandbytes',
      load_in_4bit: true,
      load_in_8bit: false,
      bnb_4bit_quant_type: 'nf4',
      bnb_4bit_use_double_quant: true,
      bnb_4bit_quant_storage: 'uint8',
    });
    const back = loadQuantizedModel(dir);
    expect(back.report.prequantized.length).toBe(8);
    expect(back.report.quantized).toEqual([]);
    expect([...noGrad(() => back.model.forward(ids).toFloat32Array())]).toEqual([...logits]);

    // Dequantized for a merge, the model saves as an ordinary checkpoint: no quantization_config any more.
    expect(hfConfigOf(back.model).quantization_config).toBeDefined();
    dequantizeModel(back.model as never);
    expect(hfConfigOf(back.model).quantization_config).toBeUndefined();
  });

  it('records the weight dtype bitsandbytes would (bfloat16 for a BF16 checkpoint)', () => {
    const { model } = loadQuantizedModel(gpt2Dir, { weightsFile: 'model.bf16.safetensors' });
    const mods = quantizedModules(model as never);
    expect(mods.length).toBe(8);
    for (const [, m] of mods) expect((m.qweight as Params4bit).dtype).toBe('bfloat16');
  });

  it('Llama: quantizes the projections on load, keeps embeddings in bf16 on request, stays near float32', () => {
    const dir = path.join(FIXTURES, 'llama-tiny');
    const { model, report } = loadQuantizedModel(dir, { type: 'nf4', matrixDtype: 'bf16' });
    expect(report.quantized.every((p) => /\.(q|k|v|o|gate|up|down)_proj$/.test(p))).toBe(true);
    const emb = model.stateDict().get('model.embed_tokens.weight')!;
    expect(emb.dtype).toBe('bf16');
    const llamaIds = get(readReference('llama-tiny'), 'input_ids');
    const q = noGrad(() => model.forward(llamaIds).toFloat32Array());
    const f = noGrad(() => loadModel(dir).forward(llamaIds).toFloat32Array());
    expect(relErr(q, f)).toBeLessThan(0.2);
  });
});
