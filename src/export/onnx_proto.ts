/**
 * A minimal protobuf encoder for the parts of ONNX's ModelProto an exported decoder needs (field numbers from
 * onnx/onnx.proto). Messages are built bottom-up as byte chunks; large tensor payloads are kept as separate
 * chunks and only concatenated when the file is written, so nothing weight-sized is copied twice.
 */

export const ONNX_TYPE = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, double: 11, bfloat16: 16 } as const;
export type OnnxElemType = keyof typeof ONNX_TYPE;

/** A message under construction: a list of byte chunks. */
export class Msg {
  readonly chunks: Uint8Array[] = [];
  size = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.byteLength;
  }

  private key(field: number, wire: number): void {
    this.push(varint(field * 8 + wire));
  }

  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.push(varint(v));
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.push(varint(data.byteLength));
    this.push(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Msg): this {
    this.key(field, 2);
    this.push(varint(m.size));
    for (const c of m.chunks) this.push(c);
    return this;
  }

  /** Packed repeated int64 (proto3 default for repeated scalars; proto2 readers accept it too). */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const parts = vs.map((v) => varint(v));
    const len = parts.reduce((a, p) => a + p.byteLength, 0);
    this.key(field, 2);
    this.push(varint(len));
    for (const p of parts) this.push(p);
    return this;
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}

/** Base-128 varint; negative numbers as 64-bit two's complement (10 bytes), as protobuf int64 does. */
export function varint(v: number | bigint): Uint8Array {
  let x = typeof v === 'bigint' ? v : BigInt(v);
  if (x < 0n) x += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) byte |= 0x80;
    out.push(byte);
  } while (x > 0n);
  return Uint8Array.from(out);
}

// ---- ONNX messages -------------------------------------------------------------------------------------------

export type AttrValue = number | string | number[] | { floats: number[] } | { tensor: Msg } | { float: number };

/** AttributeProto: integers are INT, plain numbers with `{float}` are FLOAT, arrays INTS. */
export function attribute(name: string, v: AttrValue): Msg {
  const m = new Msg().string(1, name);
  if (typeof v === 'number') return m.int(3, v).int(20, 2);
  if (typeof v === 'string') return m.string(4, v).int(20, 3);
  if (Array.isArray(v)) return m.packedInts(8, v).int(20, 7);
  if ('float' in v) return m.float(2, v.float).int(20, 1);
  if ('floats' in v) return m.packedFloats(7, v.floats).int(20, 6);
  return m.msg(5, v.tensor).int(20, 4);
}

export function node(op: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, AttrValue> = {}): Msg {
  const m = new Msg();
  for (const i of inputs) m.string(1, i);
  for (const o of outputs) m.string(2, o);
  m.string(3, name).string(4, op);
  for (const [k, v] of Object.entries(attrs)) m.msg(5, attribute(k, v));
  return m;
}

/** TensorProto with raw little-endian data inline. */
export function tensorProto(name: string, type: OnnxElemType, dims: readonly number[], raw: Uint8Array): Msg {
  const m = new Msg();
  if (dims.length) m.packedInts(1, dims);
  return m.int(2, ONNX_TYPE[type]).string(8, name).bytes(9, raw);
}

/** TensorProto whose data lives in an external file at [offset, offset + length). */
export function externalTensorProto(name: string, type: OnnxElemType, dims: readonly number[], location: string, offset: number, length: number): Msg {
  const m = new Msg();
  if (dims.length) m.packedInts(1, dims);
  m.int(2, ONNX_TYPE[type]).string(8, name);
  for (const [k, v] of [
    ['location', location],
    ['offset', String(offset)],
    ['length', String(length)],
  ]) {
    m.msg(13, new Msg().string(1, k!).string(2, v!));
  }
  return m.int(14, 1);
}

/** ValueInfoProto for a tensor input/output; a string dim is symbolic (dim_param). */
export function valueInfo(name: string, type: OnnxElemType, dims: (number | string)[]): Msg {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().string(2, d));
  const tensorType = new Msg().int(1, ONNX_TYPE[type]).msg(2, shape);
  return new Msg().string(1, name).msg(2, new Msg().msg(1, tensorType));
}

export function graphProto(name: string, nodes: Msg[], initializers: Msg[], inputs: Msg[], outputs: Msg[]): Msg {
  const g = new Msg();
  for (const n of nodes) g.msg(1, n);
  g.string(2, name);
  for (const t of initializers) g.msg(5, t);
  for (const i of inputs) g.msg(11, i);
  for (const o of outputs) g.msg(12, o);
  return g;
}

export function modelProto(graph: Msg, opset: number, producer: string, version: string, metadata: Record<string, string> = {}): Msg {
  const m = new Msg().int(1, 8); // IR version 8 (opsets up to 18)
  m.string(2, producer).string(3, version);
  m.msg(7, graph);
  m.msg(8, new Msg().string(1, '').int(2, opset));
  for (const [k, v] of Object.entries(metadata)) m.msg(14, new Msg().string(1, k).string(2, v));
  return m;
}
