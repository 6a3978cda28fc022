/** The README's library example runs as a user would run it (against the compiled package, dist/). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, SHARED } from './helpers/paths.js';

describe('examples/library.mjs', () => {
  it('runs: generation, LoRA, training with a callback, PEFT save, evaluation beside persistence', () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'examples', 'library.mjs'), SHARED], { cwd: ROOT, encoding: 'utf8' });
    expect(out).toMatch(/^generated \[(\d+,){7}\d+\]$/m);
    const [, trainable, total] = /^trainable (\d+) of (\d+)$/m.exec(out)!;
    expect(Number(trainable)).toBeGreaterThan(0);
    expect(Number(trainable)).toBeLessThan(Number(total) / 10);
    expect(out).toMatch(/^losses( \d+\.\d{3}){5}$/m);
    expect(out).toMatch(/^saved adapter_config\.json, adapter_model\.safetensors$/m);
    expect(out).toMatch(/^rmse persistence [\d.e+-]+ skill 0$/m);
  }, 60_000);
});
