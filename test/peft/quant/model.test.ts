/**
 * Whole models: which layers get quantized (GPT-2 and Llama), the model-wide memory bound, forward equal to the
 * dequantized model, quantize-on-load, and bitsandbytes-serialized checkpoints (key names, dtypes, shapes,
 * quant-state JSON, exact round trips).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGPT2, loadModel, normalizeGpt2Key } from '../../../src/models/load.js';
import { GPT2, gpt2OptionsFromConfig } from '../../../src/models/gpt2.js';
import { readHfConfig, type Gpt2Config } from '../../../src/io/hf_config.js';
import { openSafetensors, readSafetensors, writeSafetensors } from '../../../src/io/safetensors.js';
import {
  Params4bit,
  QuantLinear,
  dequantizeModel,
  loadQuantizedCheckpoint,
  packQuantState,
  pyFloatRepr,
  quantizationReport,
  quantizeModel,
  quantizedModules,
  saveQuantizedCheckpoint,
} from '../../../src/peft/quant/index.js';
import { Embedding, LayerNorm } from '../../../src/nn/layers.js';
import { noGrad } from '../../../src/tensor/index.js';
import { FIXTURES } from '../../helpers/paths.js';
import { get, maxAbsDiff, readReference, relErr } from '../../helpers/fixtures.js';

const gpt2Dir = path.join(FIXTURES, 'gpt2-tiny');
const ref = readReference('gpt2-tiny');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-quant-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const GPT2_LAYERS = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => [`transformer.h.${i}.attn.c_attn`, `transformer.h.${i}.attn.c_proj`, `transformer.h.${i}.mlp.c_fc`, `transformer.h.${i}.mlp.c_proj`]).flat();

function freshGpt2(): GPT2 {
  return new GPT2(gpt2OptionsFromConfig(readHfConfig(path.join(gpt2Dir, 'config.json')) as Gpt2Config));
}

describe('quantizeModel', () => {
  it("GPT-2: quantizes c_attn, c_proj, c_fc in every block; embeddings, norms and the head stay float32", () => {
    const model = loadGPT2(gpt2Dir);
    const wte = model.transformer.wte.weight;
    const report = quantizeModel(model, { type: 'nf4', doubleQuant: true });
    expect(report.replaced).toEqual(GPT2_LAYERS(2));
    expect(model.transformer.wte).toBeInstanceOf(Embedding);
    expect(model.transformer.ln_f).toBeInstanceOf(LayerNorm);
    expect(model.lm_head.weight).toBe(wte);
    expect(model.transformer.h[0]!.attn.c_attn).toBeInstanceOf(QuantLinear);
    const c = model.transformer.h[0]!.attn.c_attn as unknown as QuantLinear;
    expect([c.outFeatures, c.inFeatures, c.sourceLayout]).toEqual([192, 64, 'in_out']);
    // No quantized weight is a parameter: only biases (frozen), embeddings and norms remain.
    const names = model.namedParameters().map(([k]) => k);
    expect(names.some((k) => /c_attn\.weight|c_fc\.weight|c_proj\.weight/.test(k))).toBe(false);
    expect(quantizationReport(model).quantizedBytes).toBe(report.quantizedBytes);
  });

  it('the quantized layers take at most 0.15x their float32 bytes model-wide (shared maps counted once)', () => {
    for (const doubleQuant of [false, true]) {
      const model = loadGPT2(gpt2Dir);
      const r = quantizeModel(model, { doubleQuant });
      // gpt2-tiny: 2 × (64·192 + 64·64 + 64·256 + 256·64) weights.
      expect(r.fp32Bytes).toBe(2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64) * 4);
      expect(r.ratio).toBeLessThanOrEqual(0.15);
    }
  });

  it('Llama: quantizes q/k/v/o_proj and gate/up/down_proj only', () => {
    const model = loadModel(path.join(FIXTURES, 'llama-tiny'));
    const r = quantizeModel(model as never, { type: 'int8' });
    const nLayers = r.replaced.length / 7;
    expect(Number.isInteger(nLayers) && nLayers > 0).toBe(true);
    for (const p of r.replaced) expect(p).toMatch(/^model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)$/);
  });

  it('forward of the quantized model equals the dequantized float32 model, and stays near the original', () => {
    const ids = get(ref, 'input_ids');
    const model = loadGPT2(gpt2Dir);
    quantizeModel(model, { type: 'nf4', doubleQuant: true });
    const q = noGrad(() => model.forward(ids).toFloat32Array());
    const msg = dequantizeModel(model);
    expect(msg.replaced.length).toBe(8);
    expect(msg.message).toMatch(/no longer quantized/);
    const d = noGrad(() => model.forward(ids).toFloat32Array());
    expect(maxAbsDiff(q, d)).toBeLessThan(1e-5);
    // NF4 on a random tiny model: logits move, but by a small fraction of their size.
    expect(relErr(q, get(ref, 'logits').toFloat32Array())).toBeLessThan(0.2);
  });

  it('the skip list leaves named layers in float32', () => {
    const model = loadGPT2(gpt2Dir);
    const r = quantizeModel(model, { skip: ['c_fc', /h\.1\.attn/] });
    expect(r.replaced).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.mlp.c_proj']);
  });
});

describe('bitsandbytes-serialized checkpoints', () => {
  it('writes the keys, dtypes and shapes bitsandbytes writes, and its quant-state JSON', () => {
    const model = loadGPT2(gpt2Dir);
    quantizeModel(model, { doubleQuant: true });
    const file = path.join(tmp, 'nf4-dq.safetensors');
    saveQuantizedCheckpoint(model, file);
    const { tensors } = readSafetensors(file);
    const p = 'transformer.h.0.attn.c_attn';
    const meta = (k: string): [string, number[]] => [tensors.get(k)!.dtype, tensors.get(k)!.shape];
    // [192, 64] → 12288 weights: 6144 bytes [6144, 1]; 192 blocks of 64; 1 nested block of 256.
    expect(meta(`${p}.weight`)).toEqual(['U8', [6144, 1]]);
    expect(meta(`${p}.weight.absmax`)).toEqual(['U8', [192]]);
    expect(meta(`${p}.weight.quant_map`)).toEqual(['F32', [16]]);
    expect(meta(`${p}.weight.nested_absmax`)).toEqual(['F32', [1]]);
    expect(meta(`${p}.weight.nested_quant_map`)).toEqual(['F32', [256]]);
    expect(meta(`${p}.weight.quant_state.bitsandbytes__nf4`)[0]).toBe('U8');
    expect(meta(`${p}.bias`)).toEqual(['F32', [192]]);
    expect(tensors.has(`${p}.weight.nested_offset`)).toBe(false);
    const json = new TextDecoder().decode(tensors.get(`${p}.weight.quant_state.bitsandbytes__nf4`)!.data as Uint8Array);
    const qw = (model.transformer.h[0]!.attn.c_attn as unknown as QuantLinear).qweight as Params4bit;
    // json.dumps of QuantState.as_dict's non-tensor items, in that order, with Python's separators.
    expect(json).toBe(
      `{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [192, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": ${pyFloatRepr(qw.nested!.offset)}}`,
    );
    // Unquantized tensors keep their names; the tied head is not written.
    expect(meta('transformer.wte.weight')).toEqual(['F32', [512, 64]]);
    expect(tensors.has('lm_head.weight')).toBe(false);
  });

  it('without double quantization: F32 absmax and no nested keys', () => {
    const model = loadGPT2(gpt2Dir);
    quantizeModel(model, { doubleQuant: false });
    const file = path.join(tmp, 'nf4.safetensors');
    saveQuantizedCheckpoint(model, file);
    const f = openSafetensors(file);
    try {
      const p = 'transformer.h.1.mlp.c_fc';
      expect(f.entry(`${p}.weight.absmax`).dtype).toBe('F32');
      expect(f.entry(`${p}.weight.absmax`).shape).toEqual([256]);
      expect(f.has(`${p}.weight.nested_absmax`)).toBe(false);
      const json = new TextDecoder().decode(f.readBytes(`${p}.weight.quant_state.bitsandbytes__nf4`));
      expect(json).toBe('{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [256, 64]}');
    } finally {
      f.close();
    }
  });

  for (const type of ['nf4', 'fp4', 'int8'] as const) {
    it(`${type}: save → load → save is exact (same bytes, same logits)`, () => {
      const ids = get(ref, 'input_ids');
      const model = loadGPT2(gpt2Dir);
      quantizeModel(model, { type, doubleQuant: true });
      const a = path.join(tmp, `${type}-a.safetensors`);
      saveQuantizedCheckpoint(model, a);
      const logits = noGrad(() => model.forward(ids).toFloat32Array());

      const back = freshGpt2();
      const r = loadQuantizedCheckpoint(back, [a]);
      expect(r.prequantized).toEqual(GPT2_LAYERS(2));
      for (const [[pa, ma], [pb, mb]] of quantizedModules(model).map((x, i) => [x, quantizedModules(back)[i]!] as const)) {
        expect(pb).toBe(pa);
        expect(mb.sourceLayout).toBe(ma.sourceLayout);
      }
      expect([...noGrad(() => back.forward(ids).toFloat32Array())]).toEqual([...logits]);
      const b = path.join(tmp, `${type}-b.safetensors`);
      saveQuantizedCheckpoint(back, b);
      expect(Buffer.compare(fs.readFileSync(a), fs.readFileSync(b))).toBe(0);
    });
  }

  it('keeps a loaded quant-state JSON byte for byte, even in a formatting this code would not write', () => {
    const model = loadGPT2(gpt2Dir);
    quantizeModel(model, { doubleQuant: true });
    const a = path.join(tmp, 'json-a.safetensors');
    saveQuantizedCheckpoint(model, a);
    // Rewrite one state with other spacing and key order (valid JSON, same meaning).
    const { tensors, metadata } = readSafetensors(a);
    const key = 'transformer.h.0.mlp.c_proj.weight.quant_state.bitsandbytes__nf4';
    const parsed = JSON.parse(new TextDecoder().decode(tensors.get(key)!.data as Uint8Array));
    const odd = new TextEncoder().encode(JSON.stringify({ shape: parsed.shape, quant_type: 'nf4', dtype: 'float32', blocksize: 64, nested_blocksize: 256, nested_offset: parsed.nested_offset, nested_dtype: 'float32' }));
    tensors.set(key, { dtype: 'U8', shape: [odd.length], data: odd });
    const b = path.join(tmp, 'json-b.safetensors');
    writeSafetensors(b, tensors, metadata);
    const back = freshGpt2();
    loadQuantizedCheckpoint(back, [b]);
    const c = path.join(tmp, 'json-c.safetensors');
    saveQuantizedCheckpoint(back, c);
    expect(Buffer.compare(fs.readFileSync(b), fs.readFileSync(c))).toBe(0);
    // And a fresh state serializes as bitsandbytes would.
    const qw = (back.transformer.h[0]!.mlp.c_proj as unknown as QuantLinear).qweight as Params4bit;
    expect(new TextDecoder().decode(packQuantState(qw))).toMatch(/^\{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": \[64, 256\], /);
  });

  it('quantizes an fp32 checkpoint tensor by tensor while loading, equal to quantizing after loading', () => {
    const ids = get(ref, 'input_ids');
    const loaded = freshGpt2();
    const r = loadQuantizedCheckpoint(loaded, [path.join(gpt2Dir, 'model.safetensors')], { rename: normalizeGpt2Key, quantize: { type: 'nf4', doubleQuant: true } });
    expect(r.quantized).toEqual(GPT2_LAYERS(2));
    const after = loadGPT2(gpt2Dir);
    quantizeModel(after, { type: 'nf4', doubleQuant: true });
    for (const [[, a], [, b]] of quantizedModules(loaded).map((x, i) => [x, quantizedModules(after)[i]!] as const)) {
      expect([...(a.qweight as Params4bit).packed]).toEqual([...(b.qweight as Params4bit).packed]);
    }
    expect([...noGrad(() => loaded.forward(ids).toFloat32Array())]).toEqual([...noGrad(() => after.forward(ids).toFloat32Array())]);
  });

  it('rejects a quantized layer whose shape does not match the model, and a missing part', () => {
    const model = loadGPT2(gpt2Dir);
    quantizeModel(model, { doubleQuant: true });
    const a = path.join(tmp, 'bad-a.safetensors');
    saveQuantizedCheckpoint(model, a);
    const { tensors, metadata } = readSafetensors(a);
    const noMap = new Map(tensors);
    noMap.delete('transformer.h.1.attn.c_attn.weight.nested_quant_map');
    const b = path.join(tmp, 'bad-b.safetensors');
    writeSafetensors(b, noMap, metadata);
    expect(() => loadQuantizedCheckpoint(freshGpt2(), [b])).toThrow(/nested_quant_map" is missing/);
    const wide = new GPT2({ vocabSize: 512, nPositions: 64, nEmbd: 128, nLayer: 2, nHead: 4 });
    expect(() => loadQuantizedCheckpoint(wide, [a])).toThrow(/quantized as \[192, 64\], the model's layer is \[384, 128\]/);
  });
});

describe('pyFloatRepr (json.dumps floats)', () => {
  it('writes floats as Python does', () => {
    expect(pyFloatRepr(0.1)).toBe('0.1');
    expect(pyFloatRepr(3)).toBe('3.0');
    expect(pyFloatRepr(1e-5)).toBe('1e-05');
    expect(pyFloatRepr(0.0001)).toBe('0.0001');
    expect(pyFloatRepr(1.5e-7)).toBe('1.5e-07');
    expect(pyFloatRepr(1e16)).toBe('1e+16');
    expect(pyFloatRepr(123.456)).toBe('123.456');
    expect(pyFloatRepr(-2.5)).toBe('-2.5');
    expect(pyFloatRepr(Math.fround(0.013))).toBe('0.013000000268220901');
  });
});
