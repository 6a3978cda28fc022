/**
 * A bitsandbytes-serialized layer written by hand — tensors, dtypes and the quant-state JSON typed out as
 * bitsandbytes/transformers write them, not produced by fintune's saver — loads to the weights worked out by
 * hand, and saves back to the same bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors, type SafetensorsTensor } from '../../../src/io/safetensors.js';
import { Linear } from '../../../src/nn/layers.js';
import { Module } from '../../../src/nn/module.js';
import { QuantLinear, dequantizeWeight, loadQuantizedCheckpoint, saveQuantizedCheckpoint } from '../../../src/peft/quant/index.js';
import { fromArray, noGrad } from '../../../src/tensor/index.js';

const f32 = Math.fround;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-bnbfile-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

class Toy extends Module {
  proj = new Linear(4, 2);
}

const NF4 = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const t = (dtype: SafetensorsTensor['dtype'], shape: number[], data: ArrayBufferView): SafetensorsTensor => ({ dtype, shape, data });

// W [2, 4] row-major has codes 15 0 7 7 | 8 12 0 7, two a byte with the first in the high nibble:
// F0 77 8C 07. With absmax 2 they decode to 2·[1, -1, 0, 0, 0.0796, 0.4407, -1, 0].
const PACKED = Uint8Array.of(0xf0, 0x77, 0x8c, 0x07);
const EXPECTED = [2, -2, 0, 0, f32(2 * f32(0.07958029955625534)), f32(2 * f32(0.44070982933044434)), -2, 0];
// The bias in bf16: 0.5 = 0x3F00, -0.25 = 0xBE80.
const BIAS_BF16 = Uint16Array.of(0x3f00, 0xbe80);

describe('a hand-written -bnb-4bit layer', () => {
  it('loads without double quantization (F32 absmax)', () => {
    const file = path.join(tmp, 'plain.safetensors');
    writeSafetensors(
      file,
      {
        'proj.weight': t('U8', [4, 1], PACKED),
        'proj.weight.absmax': t('F32', [1], Float32Array.of(2)),
        'proj.weight.quant_map': t('F32', [16], Float32Array.from(NF4)),
        'proj.weight.quant_state.bitsandbytes__nf4': (() => {
          const j = utf8('{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 4]}');
          return t('U8', [j.length], j);
        })(),
        'proj.bias': t('BF16', [2], BIAS_BF16),
      },
      { format: 'pt' },
    );
    const model = new Toy();
    const r = loadQuantizedCheckpoint(model, [file]);
    expect(r.prequantized).toEqual(['proj']);
    const q = model.proj as unknown as QuantLinear;
    expect(q).toBeInstanceOf(QuantLinear);
    expect([...dequantizeWeight(q.qweight)]).toEqual(EXPECTED);
    expect([...q.bias!.toFloat32Array()]).toEqual([0.5, -0.25]);
    // y = x·Wᵀ + b with x = [1, 1, 1, 1]: row sums + bias.
    const y = noGrad(() => q.forward(fromArray(Float32Array.of(1, 1, 1, 1), [1, 4])).toFloat32Array());
    expect(y[0]).toBeCloseTo(0.5, 6);
    expect(y[1]).toBeCloseTo(EXPECTED[4]! + EXPECTED[5]! - 2 - 0.25, 5);
    // Saved back (non-quantized tensors as BF16 like the original): the same file, byte for byte.
    const again = path.join(tmp, 'plain-again.safetensors');
    saveQuantizedCheckpoint(model, again, { dtype: 'BF16' });
    expect(Buffer.compare(fs.readFileSync(file), fs.readFileSync(again))).toBe(0);
  });

  it('loads a double-quantized state using the stored map, nested absmax and offset', () => {
    // absmax = nested_quant_map[q] · nested_absmax + nested_offset = 0.5 · 3 + 0.5 = 2 with q = 255, where the
    // stored map's last entry is 0.5 — a map unlike bitsandbytes' own, so only a loader that uses the file's
    // map gets absmax 2.
    const map = new Float32Array(256);
    for (let i = 0; i < 256; i++) map[i] = (i - 127) / 256;
    map[255] = 0.5;
    const json = utf8(
      '{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 4], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5}',
    );
    const file = path.join(tmp, 'nested.safetensors');
    writeSafetensors(
      file,
      {
        'proj.weight': t('U8', [4, 1], PACKED),
        'proj.weight.absmax': t('U8', [1], Uint8Array.of(255)),
        'proj.weight.nested_absmax': t('F32', [1], Float32Array.of(3)),
        'proj.weight.nested_quant_map': t('F32', [256], map),
        'proj.weight.quant_map': t('F32', [16], Float32Array.from(NF4)),
        'proj.weight.quant_state.bitsandbytes__nf4': t('U8', [json.length], json),
        'proj.bias': t('BF16', [2], BIAS_BF16),
      },
      { format: 'pt' },
    );
    const model = new Toy();
    loadQuantizedCheckpoint(model, [file]);
    const q = model.proj as unknown as QuantLinear;
    expect([...dequantizeWeight(q.qweight)]).toEqual(EXPECTED);
    const again = path.join(tmp, 'nested-again.safetensors');
    saveQuantizedCheckpoint(model, again, { dtype: 'BF16' });
    expect(Buffer.compare(fs.readFileSync(file), fs.readFileSync(again))).toBe(0);
  });

  it('loads an 8-bit layer (weight I8 + SCB) and ignores weight_format', () => {
    const file = path.join(tmp, 'int8.safetensors');
    writeSafetensors(file, {
      'proj.weight': t('I8', [2, 4], Int8Array.of(127, -127, 0, 64, 1, 2, 3, 4)),
      'proj.SCB': t('F32', [2], Float32Array.of(2, 0.5)),
      'proj.weight_format': t('U8', [], Uint8Array.of(0)),
      'proj.bias': t('F32', [2], Float32Array.of(0, 0)),
    });
    const model = new Toy();
    loadQuantizedCheckpoint(model, [file]);
    const q = model.proj as unknown as QuantLinear;
    expect(q.quantType).toBe('int8');
    const inv = f32(1 / 127);
    // q · SCB · (1/127), each product rounded to float32.
    expect([...dequantizeWeight(q.qweight)]).toEqual([127, -127, 0, 64, 1, 2, 3, 4].map((v, i) => f32(f32(v * (i < 4 ? 2 : 0.5)) * inv)));
  });
});
