/**
 * TensorBoard scalar logging without TensorFlow: event files are TFRecord streams of `Event` protocol buffers,
 * both simple enough to write by hand.
 *
 * TFRecord framing, per record: length (uint64 LE), masked CRC-32C of those 8 length bytes (uint32 LE), the
 * payload, masked CRC-32C of the payload (uint32 LE). "Masked" = rotate right by 15 bits, add 0xa282ead8; it
 * keeps a CRC of data that itself contains CRCs from being trivially self-consistent.
 *
 * Protobuf messages written (field numbers from tensorflow/core/util/event.proto and summary.proto):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first record of a file carries file_version "brain.Event:2", which TensorBoard checks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ---------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protobuf encoding (only the wire types needed) ----------------------------------------------------------

class ProtoWriter {
  private parts: number[] = [];

  private varint(v: bigint): void {
    // int64 fields are encoded as unsigned 64-bit varints (negative values as two's complement).
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }
  private tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }
  double(field: number, v: number): this {
    this.tag(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  int64(field: number, v: number): this {
    this.tag(field, 0);
    this.varint(BigInt(Math.trunc(v)));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varint(BigInt(b.length));
    this.parts.push(...b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function encodeScalarEvent(wallTime: number, step: number, scalars: Record<string, number>): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, v] of Object.entries(scalars)) {
    summary.bytes(1, new ProtoWriter().string(1, tag).float(2, v).finish());
  }
  return new ProtoWriter().double(1, wallTime).int64(2, step).bytes(5, summary.finish()).finish();
}

export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

/** One TFRecord: framing around a payload. */
export function tfRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(payload.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(payload, 12);
  dv.setUint32(12 + payload.length, maskedCrc32c(payload), true);
  return out;
}

/**
 * Appends scalar events to a new `events.out.tfevents.<secs>.<host>` file in `dir`. Each record is written
 * with one appendFileSync call, so a killed process leaves at most one truncated final record, which
 * TensorBoard's reader skips.
 */
export class TensorBoardWriter {
  readonly file: string;
  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    const now = Date.now() / 1000;
    // pid in the name: a resumed run in the same second still gets its own file.
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(now)}.${os.hostname()}.${process.pid}`);
    fs.writeFileSync(this.file, tfRecord(encodeFileVersionEvent(now)));
  }

  scalars(step: number, values: Record<string, number | undefined | null>): void {
    const finite: Record<string, number> = {};
    for (const [k, v] of Object.entries(values)) if (typeof v === 'number') finite[k] = v;
    if (Object.keys(finite).length === 0) return;
    fs.appendFileSync(this.file, tfRecord(encodeScalarEvent(Date.now() / 1000, step, finite)));
  }
}
