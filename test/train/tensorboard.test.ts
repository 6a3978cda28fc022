import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Trainer } from '../../src/train/trainer.js';
import { ListData, mappingBatch, readMetrics, tinyModel, tmpDir } from './helpers.js';

// ---- an independent reader: bit-at-a-time CRC-32C and a minimal protobuf decoder -------------------------------

function crc32cBitwise(b: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? ((crc >>> 1) ^ 0x82f63b78) >>> 0 : crc >>> 1;
  }
  return ~crc >>> 0;
}
const mask = (c: number): number => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

type Field = { no: number; wire: number; value: bigint | Uint8Array };
function decodeProto(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n,
      shift = 0n;
    for (;;) {
      const x = b[i++]!;
      r |= BigInt(x & 0x7f) << shift;
      if (!(x & 0x80)) return r;
      shift += 7n;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const no = key >> 3,
      wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) out.push({ no, wire, value: b.slice(i, (i += 8)) });
    else if (wire === 5) out.push({ no, wire, value: b.slice(i, (i += 4)) });
    else if (wire === 2) {
      const n = Number(varint());
      out.push({ no, wire, value: b.slice(i, (i += n)) });
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

function readRecords(file: string): Uint8Array[] {
  const buf = new Uint8Array(fs.readFileSync(file));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const recs: Uint8Array[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = Number(dv.getBigUint64(pos, true));
    expect(dv.getUint32(pos + 8, true)).toBe(mask(crc32cBitwise(buf.subarray(pos, pos + 8))));
    const payload = buf.subarray(pos + 12, pos + 12 + len);
    expect(dv.getUint32(pos + 12 + len, true)).toBe(mask(crc32cBitwise(payload)));
    recs.push(payload);
    pos += 16 + len;
  }
  return recs;
}

describe('TensorBoard event files', () => {
  it('CRC-32C matches the standard check value', () => {
    // The CRC-32C "check" value: CRC of the ASCII digits 123456789.
    expect(crc32cBitwise(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('decode independently to the same scalars as metrics.jsonl', async () => {
    const dir = tmpDir('tb');
    await new Trainer({
      model: tinyModel(1),
      train: new ListData(() => [mappingBatch(2, 8, 1, (x) => x + 1)]),
      eval: () => [mappingBatch(2, 8, 2, (x) => x + 1)],
      config: { runDir: dir, maxSteps: 3, lr: 1e-2, evalEvery: 3, tensorboard: true, progress: 'quiet' },
    }).train();
    const files = fs.readdirSync(path.join(dir, 'tb'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
    const recs = readRecords(path.join(dir, 'tb', files[0]!));
    expect(recs).toHaveLength(4);

    const first = decodeProto(recs[0]!);
    expect(first.find((f) => f.no === 1)!.wire).toBe(1); // wall_time: double
    expect(Buffer.from(first.find((f) => f.no === 3)!.value as Uint8Array).toString()).toBe('brain.Event:2');

    const metrics = readMetrics(dir);
    recs.slice(1).forEach((rec, k) => {
      const ev = decodeProto(rec);
      const wall = new DataView((ev.find((f) => f.no === 1)!.value as Uint8Array).buffer).getFloat64(0, true);
      expect(Math.abs(wall - Date.now() / 1000)).toBeLessThan(600);
      expect(ev.find((f) => f.no === 2)!.value).toBe(BigInt(k + 1));
      const summary = decodeProto(ev.find((f) => f.no === 5)!.value as Uint8Array);
      const scalars: Record<string, number> = {};
      for (const v of summary.filter((f) => f.no === 1)) {
        const fields = decodeProto(v.value as Uint8Array);
        const tag = Buffer.from(fields.find((f) => f.no === 1)!.value as Uint8Array).toString();
        const val = fields.find((f) => f.no === 2)!;
        expect(val.wire).toBe(5);
        scalars[tag] = new DataView((val.value as Uint8Array).buffer).getFloat32(0, true);
      }
      const m = metrics[k]!;
      expect(scalars['train/loss']).toBe(Math.fround(m.loss!));
      expect(scalars['train/lr']).toBe(Math.fround(m.lr!));
      expect(scalars['train/grad_norm']).toBe(Math.fround(m.gradNorm!));
      if (k === 2) {
        expect(scalars['val/loss']).toBe(Math.fround(m.valLoss!));
        expect(scalars['val/perplexity']).toBe(Math.fround(m.valPerplexity!));
      } else expect(scalars).not.toHaveProperty('val/loss');
    });
  });
});
