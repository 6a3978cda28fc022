import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DTYPE_SIZE,
  openSafetensors,
  readSafetensors,
  serializeSafetensors,
  toFloat32,
  toInt32,
  toInt64,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from '../../src/io/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';
import { mulberry32 } from '../helpers/prng.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


function headerJson(file: string): Record<string, any> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

describe('fixtures', () => {
  const dirs = fs.readdirSync(FIXTURES).filter((d) => fs.statSync(path.join(FIXTURES, d)).isDirectory());
  const files = dirs.flatMap((d) =>
    fs.readdirSync(path.join(FIXTURES, d)).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(FIXTURES, d, f)),
  );

  it('finds the fixture files', () => {
    expect(dirs.sort()).toEqual([
      'gpt2-tiny',
      'gpt2-tiny-lora',
      'gpt2-tiny-trained',
      'llama-tiny',
      'llama-tiny-rope-scaled',
      'llama-tiny-trained',
    ]);
    expect(files.length).toBe(14);
  });

  it.each(files.map((f) => [path.relative(FIXTURES, f), f]))('reads every tensor of %s', (_rel, file) => {
    const f = openSafetensors(file);
    try {
      // Our view of the header agrees with an independent JSON.parse of it.
      const raw = headerJson(file);
      const names = Object.keys(raw).filter((k) => k !== '__metadata__');
      expect(f.keys()).toEqual(names);
      for (const e of f.entries) {
        expect(e.shape).toEqual(raw[e.name].shape);
        expect(e.dtype).toBe(raw[e.name].dtype);
        const data = f.read(e.name);
        expect(data.length).toBe(e.numel);
        expect(data.byteLength).toBe(e.numel * DTYPE_SIZE[e.dtype]);
        // Independent check of the bytes: they are the file's bytes at the entry's position.
        const fileBytes = fs.readFileSync(file).subarray(e.byteOffset, e.byteOffset + e.byteLength);
        expect(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(fileBytes)).toBe(true);
      }
    } finally {
      f.close();
    }
  });

  const shapes = (file: string) => {
    const { tensors } = readSafetensors(file);
    return Object.fromEntries([...tensors].map(([k, t]) => [k, `${t.dtype}${JSON.stringify(t.shape)}`]));
  };

  it('gpt2-tiny matches the README', () => {
    const m = shapes(path.join(FIXTURES, 'gpt2-tiny/model.safetensors'));
    expect(m['transformer.wte.weight']).toBe('F32[512,64]');
    expect(m['transformer.wpe.weight']).toBe('F32[64,64]');
    // Conv1D weights are [in, out].
    expect(m['transformer.h.0.attn.c_attn.weight']).toBe('F32[64,192]');
    expect(m['transformer.h.1.mlp.c_fc.weight']).toBe('F32[64,256]');
    expect(m['transformer.h.1.mlp.c_proj.weight']).toBe('F32[256,64]');
    expect(m['lm_head.weight']).toBeUndefined(); // tied, not stored
    const b = shapes(path.join(FIXTURES, 'gpt2-tiny/model.bf16.safetensors'));
    expect(Object.keys(b).sort()).toEqual(Object.keys(m).sort());
    for (const k of Object.keys(b)) expect(b[k]).toBe(m[k]!.replace('F32', 'BF16'));

    const r = shapes(path.join(FIXTURES, 'gpt2-tiny/reference.safetensors'));
    expect(r['input_ids']).toBe('I64[2,16]');
    expect(r['labels']).toBe('I64[2,16]');
    expect(r['logits']).toBe('F32[2,16,512]');
    expect(r['loss']).toBe('F32[1]');
    expect(r['greedy.prompt']).toBe('I64[1,5]');
    expect(r['greedy.output']).toBe('I64[1,13]');
    expect(r['bf16.logits']).toBe('F32[2,16,512]');
    for (const k of Object.keys(m)) {
      expect(r[`grad.${k}`]).toBe(m[k]);
      expect(r[`adamw.${k}`]).toBe(m[k]);
    }
    const o = shapes(path.join(FIXTURES, 'gpt2-tiny/optimizer.safetensors'));
    for (const k of Object.keys(m)) {
      for (const s of [1, 2, 3]) expect(o[`step${s}.grad.${k}`]).toBe(m[k]);
      expect(o[`step3.weight.${k}`]).toBe(m[k]);
    }
    for (const s of [1, 2, 3]) expect(o[`step${s}.loss`]).toMatch(/^F32/);
  });

  it('reads I64 slices at misaligned offsets and converts them', () => {
    const f = openSafetensors(path.join(FIXTURES, 'gpt2-tiny/reference.safetensors'));
    try {
      const e = f.entry('greedy.prompt');
      expect(e.byteOffset % 8).not.toBe(0); // the case the README warns about
      const ids = f.read('greedy.prompt');
      expect(ids).toBeInstanceOf(BigInt64Array);
      const i32 = toInt32(ids, 'I64');
      expect([...i32].every((v) => v >= 0 && v < 512)).toBe(true);
      const out = toInt32(f.read('greedy.output'), 'I64');
      expect([...out.subarray(0, 5)]).toEqual([...i32]); // the output starts with the prompt
      const labels = toInt32(f.read('labels'), 'I64');
      expect([...labels].every((v) => v === -100 || (v >= 0 && v < 512))).toBe(true);
      expect([...labels]).toContain(-100);
      const loss = f.read('loss') as Float32Array;
      expect(loss[0]).toBeGreaterThan(0);
      expect(loss[0]).toBeLessThan(10);
    } finally {
      f.close();
    }
  });

  it('bf16 weights are the f32 weights rounded', () => {
    const a = readSafetensors(path.join(FIXTURES, 'gpt2-tiny/model.safetensors')).tensors;
    const b = readSafetensors(path.join(FIXTURES, 'gpt2-tiny/model.bf16.safetensors')).tensors;
    for (const [k, t] of a) {
      const f32 = t.data as Float32Array;
      const up = toFloat32(b.get(k)!.data, 'BF16');
      // bf16 keeps 8 significant bits: rounding to nearest errs by at most half a unit, ≤ 2^-8 relative.
      let bad = 0;
      for (let i = 0; i < f32.length; i++) if (Math.abs(up[i]! - f32[i]!) > Math.abs(f32[i]!) * 2 ** -8) bad++;
      expect(bad, k).toBe(0);
    }
  });

  it('llama-tiny, lora and trained fixtures match the README', () => {
    const m = shapes(path.join(FIXTURES, 'llama-tiny/model.safetensors'));
    expect(m['model.embed_tokens.weight']).toBe('F32[512,64]');
    expect(m['model.layers.0.self_attn.q_proj.weight']).toBe('F32[64,64]');
    expect(m['model.layers.0.self_attn.k_proj.weight']).toBe('F32[32,64]'); // 2 kv heads × head_dim 16
    expect(m['model.layers.0.self_attn.v_proj.weight']).toBe('F32[32,64]');
    expect(m['model.layers.1.mlp.gate_proj.weight']).toBe('F32[192,64]');
    expect(m['model.norm.weight']).toBe('F32[64]');
    const lr = shapes(path.join(FIXTURES, 'gpt2-tiny-lora/adapter_model.safetensors'));
    for (const l of [0, 1]) {
      expect(lr[`base_model.model.transformer.h.${l}.attn.c_attn.lora_A.weight`]).toBe('F32[4,64]');
      expect(lr[`base_model.model.transformer.h.${l}.attn.c_attn.lora_B.weight`]).toBe('F32[192,4]');
    }
    for (const d of ['gpt2-tiny-trained', 'llama-tiny-trained', 'llama-tiny-rope-scaled']) {
      const r = shapes(path.join(FIXTURES, d, 'reference.safetensors'));
      expect(r['greedy.prompt']).toBe('I64[2,8]');
      expect(r['greedy.output']).toBe('I64[2,48]');
      expect(r['greedy.step_logits']).toBe('F32[2,40,512]');
    }
  });
});

function sample(): Record<string, SafetensorsTensor> {
  return {
    'b.weight': { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2) },
    'a.bias': { dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    ids: { dtype: 'I64', shape: [2, 3], data: BigInt64Array.from([1n, -100n, 3n, 2n ** 40n, 5n, 6n]) },
    half: { dtype: 'BF16', shape: [5], data: new Uint16Array([0x3f80, 0xbf80, 0x7f80, 0x0001, 0]) },
    h16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x7bff]) },
    f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -0]) },
    i32: { dtype: 'I32', shape: [1], data: new Int32Array([-7]) },
    i16: { dtype: 'I16', shape: [3], data: new Int16Array([-1, 2, 3]) },
    i8: { dtype: 'I8', shape: [1, 1], data: new Int8Array([-8]) },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([250, 0, 7]) },
    mask: { dtype: 'BOOL', shape: [4], data: new Uint8Array([1, 0, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    empty: { dtype: 'F32', shape: [0, 7], data: new Float32Array(0) },
  };
}

describe('writer', () => {
  it('round-trips every dtype and is byte-stable', () => {
    const file = path.join(tmp, 'rt.safetensors');
    const src = sample();
    writeSafetensors(file, src, { format: 'pt', note: 'héllo "quoted"' });
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', note: 'héllo "quoted"' });
    expect(tensors.size).toBe(Object.keys(src).length);
    for (const [k, t] of Object.entries(src)) {
      const got = tensors.get(k)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
    }
    // Writing what we read gives identical bytes, whatever the order the map holds them in.
    const file2 = path.join(tmp, 'rt2.safetensors');
    writeSafetensors(file2, new Map([...tensors].reverse()), metadata);
    expect(fs.readFileSync(file2).equals(fs.readFileSync(file))).toBe(true);
    expect(Buffer.from(serializeSafetensors(tensors, metadata)).equals(fs.readFileSync(file))).toBe(true);
    // No temporary files left behind.
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('lays out like the reference library: padded header, dtype alignment then name', () => {
    const file = path.join(tmp, 'layout.safetensors');
    writeSafetensors(file, sample());
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = buf.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/^\{"/);
    expect(text.trimEnd().length).toBeGreaterThan(n - 8); // at most 7 padding spaces
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const names = Object.keys(JSON.parse(text));
    expect(names).toEqual(['ids', 'f64', 'a.bias', 'b.weight', 'empty', 'scalar', 'i32', 'half', 'h16', 'i16', 'i8', 'u8', 'mask']);
    // Offsets follow header order with no gaps; every 8-byte tensor is 8-aligned in the file.
    const f = openSafetensors(file);
    expect(f.entry('ids').byteOffset % 8).toBe(0);
    expect(f.entry('f64').byteOffset % 8).toBe(0);
    f.close();
  });

  it('rounds trips a fixture byte-for-byte after one rewrite', () => {
    const src = path.join(FIXTURES, 'gpt2-tiny/reference.safetensors');
    const { tensors, metadata } = readSafetensors(src);
    const a = path.join(tmp, 'ref-a.safetensors');
    const b = path.join(tmp, 'ref-b.safetensors');
    writeSafetensors(a, tensors, metadata);
    const again = readSafetensors(a);
    writeSafetensors(b, again.tensors, again.metadata);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    for (const [k, t] of tensors) {
      expect(Buffer.from(again.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
  });

  it('writes lazy tensors one at a time, in file order, with the same bytes as eager ones', () => {
    const eager = sample();
    const calls: string[] = [];
    const lazy = Object.fromEntries(
      Object.entries(eager).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, load: () => (calls.push(k), t.data) }]),
    );
    const a = path.join(tmp, 'eager.safetensors');
    const b = path.join(tmp, 'lazy.safetensors');
    writeSafetensors(a, eager);
    writeSafetensors(b, lazy);
    expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
    expect(calls).toEqual([...readSafetensors(a).tensors.keys()]);
    // A lazy tensor that produces the wrong length aborts the write and leaves the old file in place.
    expect(() =>
      writeSafetensors(a, { x: { dtype: 'F32', shape: [4], load: () => new Float32Array(3) } }),
    ).toThrow(/eager\.safetensors: tensor "x": shape \[4\] F32 needs 16 bytes, data has 12/);
    expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('orders names by UTF-8 bytes, as the Rust library does', () => {
    // U+FF5E (UTF-8 EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in bytes, after it in UTF-16 code units.
    const t = (): SafetensorsTensor => ({ dtype: 'U8', shape: [1], data: new Uint8Array(1) });
    const bytes = serializeSafetensors({ '\u{1F600}': t(), '\uFF5E': t(), b: t(), a: t() });
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    const names = Object.keys(JSON.parse(Buffer.from(bytes).subarray(8, 8 + n).toString('utf8')));
    expect(names).toEqual(['a', 'b', '\uFF5E', '\u{1F600}']);
  });

  it('refuses inconsistent input and leaves no file', () => {
    const file = path.join(tmp, 'bad-write.safetensors');
    expect(() => writeSafetensors(file, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /bad-write\.safetensors: tensor "x": shape \[3\] F32 needs 12 bytes, data has 8/,
    );
    expect(() => writeSafetensors(file, { x: { dtype: 'Q4' as SafetensorsDtype, shape: [1], data: new Uint8Array(1) } })).toThrow(
      /unsupported dtype/,
    );
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('large files', () => {
  it('reads a tensor beyond 2 GiB with positional reads, without reading the rest (sparse file)', () => {
    const big = 2 ** 31 + 4096; // first tensor: just over 2 GiB, never read
    const header = {
      huge: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
      tail: { dtype: 'F32', shape: [4], data_offsets: [big, big + 16] },
    };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.byteLength));
    const file = path.join(tmp, 'sparse.safetensors');
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, Buffer.concat([len, json]), 0, 8 + json.byteLength, 0);
      const tail = new Float32Array([1, -2, 3.5, 1e-3]);
      fs.writeSync(fd, new Uint8Array(tail.buffer), 0, 16, 8 + json.byteLength + big);
    } finally {
      fs.closeSync(fd);
    }
    const f = openSafetensors(file);
    try {
      expect(f.fileSize).toBe(8 + json.byteLength + big + 16);
      expect(f.entry('tail').byteOffset).toBeGreaterThan(2 ** 31);
      expect([...(f.read('tail') as Float32Array)]).toEqual([1, -2, 3.5, Math.fround(1e-3)]);
    } finally {
      f.close();
      fs.rmSync(file);
    }
  });
});

describe('conversions', () => {
  it('toFloat32 widens every float dtype and returns F32 as is', () => {
    const f = new Float32Array([1.5, -2]);
    expect(toFloat32(f, 'F32')).toBe(f);
    expect([...toFloat32(new Float64Array([0.1, -3]), 'F64')]).toEqual([Math.fround(0.1), -3]);
    expect([...toFloat32(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]), 'F16')]).toEqual([1, -2, 2 ** -24, Infinity]);
    expect([...toFloat32(new Uint16Array([0x3f80, 0xc049]), 'BF16')]).toEqual([1, -3.140625]);
    expect(() => toFloat32(new Int32Array(1), 'I32')).toThrow(/not a floating-point dtype/);
  });

  it('toInt32 narrows integer dtypes and range-checks I64', () => {
    expect([...toInt32(BigInt64Array.from([0n, -100n, 2147483647n, -2147483648n]), 'I64')]).toEqual([0, -100, 2147483647, -2147483648]);
    expect(() => toInt32(BigInt64Array.from([1n, 2147483648n]), 'I64', 'ref.safetensors: tensor "ids"')).toThrow(
      /ref\.safetensors: tensor "ids": I64 value 2147483648 at index 1 does not fit in int32/,
    );
    const i = new Int32Array([3]);
    expect(toInt32(i, 'I32')).toBe(i);
    expect([...toInt32(new Uint8Array([1, 0, 255]), 'U8')]).toEqual([1, 0, 255]);
    expect([...toInt32(new Int8Array([-1]), 'I8')]).toEqual([-1]);
    expect(() => toInt32(new Float32Array(1), 'F32')).toThrow(/needs an integer dtype/);
    expect([...toInt64(new Int32Array([-5, 7]))]).toEqual([-5n, 7n]);
  });
});

/** Packs a header object (or raw header text) and a data section into file bytes. */
function pack(header: unknown, data: Uint8Array, lengthOverride?: bigint): Buffer {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.byteLength));
  return Buffer.concat([len, json, data]);
}

function expectOpenError(bytes: Uint8Array, pattern: RegExp, name = 'case.safetensors'): void {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  let err: unknown;
  try {
    const f = openSafetensors(file);
    try {
      for (const e of f.entries) f.read(e.name);
    } finally {
      f.close();
    }
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${file}: `)).toBe(true);
  expect(msg).toMatch(pattern);
}

describe('header validation', () => {
  const data = new Uint8Array(16);
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I64', shape: [1], data_offsets: [8, 16] } };

  it('accepts the base case', () => {
    const file = path.join(tmp, 'base.safetensors');
    fs.writeFileSync(file, pack(ok, data));
    const f = openSafetensors(file);
    expect(f.keys()).toEqual(['a', 'b']);
    expect(() => f.entry('zz')).toThrow(/base\.safetensors: no tensor named "zz"/);
    f.close();
    expect(() => f.read('a')).toThrow(/read after close/);
  });

  it('gives a clear error for each kind of damage', () => {
    expectOpenError(new Uint8Array(5), /fewer than the 8-byte header length/);
    expectOpenError(pack(ok, data, 1n << 60n), /exceeds the 100000000-byte limit/);
    expectOpenError(pack(ok, data, 5000n), /header length 5000 runs past the end/);
    expectOpenError(pack('{"a": ', data), /header is not valid JSON/);
    expectOpenError(pack('[1,2]', data), /not a JSON object/);
    expectOpenError(Buffer.concat([pack('{}', new Uint8Array(0)).subarray(0, 8), Buffer.from([0xff, 0xfe])]), /UTF-8|JSON/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, dtype: 'F8_E4M3' } }, data), /tensor "a": unknown or unsupported dtype "F8_E4M3"/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, shape: [-2] } }, data), /tensor "a": shape \[-2\] has a dimension that is not a non-negative integer/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, shape: [2.5] } }, data), /tensor "a": shape/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, shape: '2' } }, data), /tensor "a": shape is missing/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, shape: new Array(100000).fill(2 ** 52) } }, data), /tensor "a": shape has 100000 dimensions, more than 64/);
    expectOpenError(pack({ ...ok, ['x'.repeat(10000)]: 1 }, data), /tensor "x{200}…": description is not an object/);
    expectOpenError(pack({ ...ok, a: { ...ok.a, shape: [3] } }, data), /tensor "a": data_offsets \[0, 8\] but shape \[3\] F32 needs 12 bytes/);
    expectOpenError(
      pack({ ...ok, a: { ...ok.a, shape: [1e15, 1e15, 1e15] } }, data),
      /tensor "a": data_offsets \[0, 8\] but shape \[1000000000000000, 1000000000000000, 1000000000000000\] F32 needs 4000000000000000000000000000000000000000000000 bytes/,
    );
    expectOpenError(pack({ ...ok, b: { ...ok.b, data_offsets: [8, 24] , shape: [2] } }, data), /tensor "b": data_offsets \[8, 24\] reach past the 16-byte data section/);
    expectOpenError(pack({ ...ok, b: { ...ok.b, data_offsets: [8] } }, data), /tensor "b": data_offsets \[8\] is not a pair/);
    expectOpenError(pack({ ...ok, b: { ...ok.b, data_offsets: [16, 8] } }, data), /tensor "b": data_offsets \[16, 8\] end before they begin/);
    expectOpenError(pack({ ...ok, b: { ...ok.b, data_offsets: [4, 12] } }, data), /tensor "b": data_offsets \[4, 12\] overlap tensor "a"/);
    expectOpenError(pack({ ...ok, b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } }, data), /tensor "b": data_offsets \[12, 16\] leave bytes \[8, 12\) of the data section unused/);
    expectOpenError(pack(ok, new Uint8Array(20)), /tensors cover 16 bytes but the data section has 20/);
    expectOpenError(pack(ok, new Uint8Array(12)), /tensor "b": data_offsets \[8, 16\] reach past the 12-byte data section \(file truncated\?\)/);
    expectOpenError(pack('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', data), /names tensor "a" twice/);
    expectOpenError(pack({ __metadata__: { n: 3 }, ...ok }, data), /"__metadata__" entry "n" is not a string/);
    expectOpenError(pack({ __metadata__: ['x'], ...ok }, data), /"__metadata__" is not an object/);
    expectOpenError(pack({ ...ok, a: 7 }, data), /tensor "a": description is not an object/);
  });

  it('fuzz: truncations and mutations end in an Error naming the file', () => {
    const rand = mulberry32(20261123);
    const base = Buffer.from(serializeSafetensors(sample(), { format: 'pt' }));
    const n = Number(base.readBigUInt64LE(0));
    const hdr = JSON.parse(base.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
    const dataSection = base.subarray(8 + n);
    const names = Object.keys(hdr).filter((k) => k !== '__metadata__');
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const weird: unknown[] = [-1, 0, 1, 2.5, 1e300, 2 ** 53, 2 ** 64, '3', null, [], {}, true, NaN];
    const file = path.join(tmp, 'fuzz.safetensors');
    let threw = 0;
    let opened = 0;
    const t0 = Date.now();
    for (let c = 0; c < 400; c++) {
      let bytes: Buffer;
      const kind = c % 8;
      if (kind === 0) {
        bytes = base.subarray(0, Math.floor(rand() * base.length));
      } else if (kind === 1) {
        bytes = Buffer.from(base);
        const flips = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < flips; i++) bytes[Math.floor(rand() * (8 + n))] ^= 1 << Math.floor(rand() * 8);
      } else if (kind === 2) {
        const lens = [0n, 1n, BigInt(n - 1), BigInt(n + 1), BigInt(base.length), 1n << 63n, (1n << 64n) - 1n, BigInt(Math.floor(rand() * 2 ** 40))];
        bytes = Buffer.from(base);
        bytes.writeBigUInt64LE(pick(lens), 0);
      } else {
        const h = structuredClone(hdr);
        const name = pick(names);
        const info = h[name];
        if (kind === 3) info.data_offsets = [pick([0, 4, 8, 96, 1e12, info.data_offsets[0]]), pick(weird.concat([info.data_offsets[1] + 8]))];
        else if (kind === 4) info.shape = rand() < 0.5 ? [pick(weird)] : [...info.shape, pick([0, 2, 1e9, -3])];
        else if (kind === 5) info.dtype = pick(['F32', 'I64', 'U16', 'f32', '', 7, null, 'BOOL', 'F64']);
        else if (kind === 6) h[pick(names)] = pick(weird);
        let text = JSON.stringify(h);
        if (kind === 7) {
          // JSON breakage: cut, delete a character, or insert structural noise.
          const at = Math.floor(rand() * text.length);
          const op = Math.floor(rand() * 3);
          text = op === 0 ? text.slice(0, at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + pick(['{', '}', '"', ',', '[', ':', '\\']) + text.slice(at);
        }
        bytes = pack(text, dataSection);
      }
      fs.writeFileSync(file, bytes);
      try {
        const f = openSafetensors(file);
        try {
          for (const e of f.entries) f.read(e.name);
        } finally {
          f.close();
        }
        opened++;
      } catch (err) {
        threw++;
        if (!(err instanceof Error) || !err.message.startsWith(`${file}: `)) {
          throw new Error(`case ${c} (kind ${kind}): unexpected failure ${String(err)}`);
        }
        expect(err.constructor).toBe(Error); // not a RangeError/TypeError from a stray allocation or access
      }
    }
    expect(threw + opened).toBe(400);
    expect(threw).toBeGreaterThan(300);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
