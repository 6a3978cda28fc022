/**
 * `fintune merge` on the PEFT fixture adapter (the merged checkpoint reproduces the adapter's reference logits
 * and merged weights) and `fintune methods` (its counts equal what applying each method really trains).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { noGrad } from '../../src/tensor/index.js';
import { applyMethod } from '../../src/peft/registry.js';
import { planMethods } from '../../src/peft/plan.js';
import { injectLora } from '../../src/peft/lora/model.js';
import { saveAdapter } from '../../src/peft/save.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

describe('fintune merge / methods', () => {
  it('merge writes a plain checkpoint that reproduces the adapter model', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-'));
    const r = await runCli(['merge', '--model', path.join(FIXTURES, 'gpt2-tiny'), '--adapter', path.join(FIXTURES, 'gpt2-tiny-lora'), '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ method: 'lora', layers: 2 });
    const ref = readReference('gpt2-tiny-lora');
    const m = loadModel(out);
    const logits = noGrad(() => m.forward(get(readReference('gpt2-tiny'), 'input_ids')));
    expect(maxAbsDiff(logits.toFlat() as Float32Array, get(ref, 'logits').toFlat() as Float32Array)).toBeLessThan(1e-4);
    const w = m.stateDict().get('transformer.h.1.attn.c_attn.weight')!;
    expect(maxAbsDiff(w.toFlat() as Float32Array, get(ref, 'merged.transformer.h.1.attn.c_attn.weight').toFlat() as Float32Array)).toBeLessThan(1e-6);
    fs.rmSync(out, { recursive: true });
    expect((await runCli(['merge', '--model', 'a', '--adapter', 'b', '--out', 'c', '--dtype', 'f16'])).code).toBe(2);
  });

  it('merge keeps a modules_to_save copy of the tied GPT-2 head (written untied)', async () => {
    const ids = get(readReference('gpt2-tiny'), 'input_ids');
    const m = loadModel(path.join(FIXTURES, 'gpt2-tiny'));
    injectLora(m, { r: 2, loraAlpha: 2, modulesToSave: ['lm_head'], initLoraWeights: false });
    const w = m.lm_head.weight.data as Float32Array;
    for (let i = 0; i < w.length; i += 5) w[i] = w[i]! - 0.02;
    const want = noGrad(() => m.forward(ids)).toFlat() as Float32Array;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-mts-'));
    saveAdapter(m, path.join(tmp, 'adapter'));
    const r = await runCli(['merge', '--model', path.join(FIXTURES, 'gpt2-tiny'), '--adapter', path.join(tmp, 'adapter'), '--out', path.join(tmp, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'out', 'config.json'), 'utf8')).tie_word_embeddings).toBe(false);
    const merged = loadModel(path.join(tmp, 'out'));
    expect(maxAbsDiff(noGrad(() => merged.forward(ids)).toFlat() as Float32Array, want)).toBeLessThan(1e-5);
    fs.rmSync(tmp, { recursive: true });
  });

  it.each(['gpt2-tiny', 'llama-tiny'])("methods' counts on %s equal what each method trains", (folder) => {
    const dir = path.join(FIXTURES, folder);
    const rows = planMethods(loadModel(dir), { r: 8, numVirtualTokens: 20 });
    for (const row of rows) {
      const m = loadModel(dir);
      if (row.unavailable) {
        expect(() => applyMethod(m, row.method)).toThrow();
        continue;
      }
      const applied = applyMethod(m, row.method, { r: 8, numVirtualTokens: 20 });
      expect(applied.counts.trainable, row.method).toBe(row.trainable);
      if (row.method !== 'qlora') expect(applied.counts.total, row.method).toBe(row.total);
    }
  });

  it('methods prints a table and a recommendation', async () => {
    const r = await runCli(['methods', '--model', path.join(FIXTURES, 'gpt2-tiny'), '--examples', '50', '--memory-budget', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^method\s+trainable/m);
    expect(r.stdout).toMatch(/^lora\s+/m);
    expect(r.stdout).toMatch(/recommended: prompt — 50 examples/);
    const j = await runCli(['methods', '--model', path.join(FIXTURES, 'llama-tiny'), '--json']);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.rows.find((x: { method: string }) => x.method === 'bitfit').unavailable).toMatch(/no bias/);
  });
});
