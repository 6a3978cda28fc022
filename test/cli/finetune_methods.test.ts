/** finetune's final/: an ordinary checkpoint for mergeable or structure-preserving methods, else the adapter. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyNumericModel } from '../helpers/runs.js';
import { runCli } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-ftm-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('fintune finetune: what final/ holds per method', () => {
  const base = path.join(tmp, 'base');
  beforeAll(() => makeTinyNumericModel(base));
  const data = path.join(tmp, 'd.jsonl');
  fs.writeFileSync(data, Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `1.1${i} 1.2${i} `, answer: `1.3${i}` })).join('\n') + '\n');
  for (const [method, kind] of [['lora', 'model'], ['prefix', 'adapter'], ['houlsby', 'adapter'], ['bitfit', 'model']] as const) {
    it(`${method} → ${kind}`, async () => {
      const out = path.join(tmp, method);
      const r = await runCli(['finetune', '--model', base, '--tokenizer', base, '--data', data, '--method', method, '--steps', '2', '--batch-size', '2', '--eval-every', '0', '--out', out, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      const final = path.join(out, 'final');
      expect(fs.existsSync(path.join(final, kind === 'model' ? 'config.json' : 'adapter_config.json'))).toBe(true);
      const args = kind === 'model' ? ['--model', final] : ['--model', base, '--adapter', final];
      const g = await runCli(['generate', ...args, '--prompt', '1.11 1.21 ', '--max-new-tokens', '3', '--json']);
      expect(g.code, g.stderr).toBe(0);
      expect(JSON.parse(g.stdout).ids).toHaveLength(3);
    });
  }
  it('--pack trains packed blocks (fewer, fuller sequences) and reports them', async () => {
    const out = path.join(tmp, 'packed');
    const r = await runCli(['finetune', '--model', base, '--tokenizer', base, '--data', data, '--pack', '--seq-len', '48', '--steps', '2', '--batch-size', '2', '--eval-every', '0', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg.trainExamples).toBe(11);
    expect(cfg.trainBlocks).toBeGreaterThan(0);
    expect(cfg.trainBlocks).toBeLessThan(cfg.trainExamples / 2);
  });
});
