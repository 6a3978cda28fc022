import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFileWriter, withAtomicFile, writeFileAtomic } from '../../src/io/atomic.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-atomic-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('atomic writes', () => {
  it('writes strings and bytes, replacing the old file', () => {
    const f = path.join(tmp, 'a.json');
    writeFileAtomic(f, '{"x":1}');
    expect(fs.readFileSync(f, 'utf8')).toBe('{"x":1}');
    writeFileAtomic(f, new Float32Array([1, 2]));
    expect(fs.readFileSync(f).equals(Buffer.from(new Float32Array([1, 2]).buffer))).toBe(true);
    expect(fs.readdirSync(tmp)).toEqual(['a.json']);
  });

  it('streams chunks and only shows the file on commit', () => {
    const f = path.join(tmp, 'b.bin');
    const w = new AtomicFileWriter(f);
    w.write(new Uint8Array([1, 2, 3]));
    w.write(new Int16Array([0x0504]).subarray(0, 1));
    expect(fs.existsSync(f)).toBe(false);
    expect(w.bytesWritten).toBe(5);
    w.commit();
    expect([...fs.readFileSync(f)]).toEqual([1, 2, 3, 4, 5]);
    expect(() => w.write('x')).toThrow(/after commit/);
  });

  it('a failure keeps the old contents and leaves no temporary file', () => {
    const f = path.join(tmp, 'c.txt');
    writeFileAtomic(f, 'old');
    expect(() =>
      withAtomicFile(f, (w) => {
        w.write('half of the new');
        throw new Error('crash in the middle');
      }),
    ).toThrow(/crash in the middle/);
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.c.txt'))).toEqual([]);
    const w = new AtomicFileWriter(f);
    w.write('never');
    w.abort();
    w.abort();
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    expect(fs.readdirSync(tmp).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('fails cleanly when the folder does not exist', () => {
    expect(() => writeFileAtomic(path.join(tmp, 'nope', 'x'), 'x')).toThrow(/ENOENT/);
  });
});
