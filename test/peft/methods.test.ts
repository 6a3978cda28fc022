/**
 * Every method of the registry on gpt2-tiny and llama-tiny: zero-init methods start exactly at the base
 * model's logits; a few AdamW steps leave the frozen base bitwise untouched; save → load onto a fresh base
 * gives identical logits; merging (where possible) keeps the logits within float rounding.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/common.js';
import { AdamW } from '../../src/nn/optim.js';
import { crossEntropy, noGrad, type Tensor } from '../../src/tensor/index.js';
import { applyMethod, METHODS } from '../../src/peft/registry.js';
import { saveAdapter } from '../../src/peft/save.js';
import { loadAdapter } from '../../src/peft/load.js';
import { withBaseOnly } from '../../src/peft/state.js';
import { quantizeModel } from '../../src/peft/quant/index.js';
import { FIXTURES } from '../helpers/paths.js';
import { get, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const MODELS = [
  ['gpt2-tiny', readReference('gpt2-tiny')],
  ['llama-tiny', readReference('llama-tiny')],
] as const;

/** Small settings so the suite stays fast; the rest are each method's defaults. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  lora: { r: 4, loraAlpha: 8, targetModules: 'all-linear' },
  rslora: { r: 4, loraAlpha: 8 },
  dora: { r: 4, loraAlpha: 8, targetModules: 'all-linear' },
  prefix: { numVirtualTokens: 3 },
  prompt: { numVirtualTokens: 3 },
  houlsby: { size: 4 },
  pfeiffer: { size: 4 },
  parallel: { size: 4 },
  'mql5-stacked': { size: 8, dropout: 0 },
};

function snapshot(model: CausalLM): Map<string, Float32Array> {
  return new Map(model.namedParameters().map(([k, p]) => [k, (p.toFlat() as Float32Array).slice()]));
}

function train(model: CausalLM, ids: Tensor, labels: Tensor, steps = 2): void {
  const opt = new AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-2 });
  for (let s = 0; s < steps; s++) {
    model.zeroGrad();
    crossEntropy(model.forward(ids), labels).backward();
    opt.step();
  }
}

const flat = (t: Tensor): Float32Array => t.toFlat() as Float32Array;

describe.each(MODELS)('every method on %s', (folder, ref) => {
  const dir = path.join(FIXTURES, folder);
  const ids = get(ref, 'input_ids');
  const labels = get(ref, 'labels');
  const baseLogits = flat(noGrad(() => loadModel(dir).forward(ids)));

  for (const spec of METHODS) {
    it(spec.name, () => {
      const model = loadModel(dir);
      const before = snapshot(model);
      if (spec.name === 'bitfit' && folder === 'llama-tiny') {
        expect(() => applyMethod(model, 'bitfit')).toThrow(/no bias parameters/);
        return;
      }
      const applied = applyMethod(model, spec.name, OPTIONS[spec.name] ?? {});
      expect(applied.counts.trainable).toBeGreaterThan(0);
      if (spec.frozenBase) expect(applied.counts.percent).toBeLessThan(50);
      model.eval();
      const start = flat(noGrad(() => model.forward(ids)));
      if (spec.zeroInit) expect(maxAbsDiff(start, baseLogits), 'starts at the base model').toBe(0);
      else expect(maxAbsDiff(start, baseLogits), 'the method changes the outputs from the start').toBeGreaterThan(0);
      // "base only" must always give the base model, adapters or not (mql5-stacked and full train the base).
      model.train();
      train(model, ids, labels);
      model.eval();
      const after = snapshot(model);
      if (spec.frozenBase) {
        for (const [k, v] of before) {
          const now = after.get(k) ?? after.get(k.replace(/\.(c_attn|c_proj|c_fc|[a-z]+_proj)\.(weight|bias)$/, '.$1.base_layer.$2')) ?? after.get(k.replace(/\.(attn|mlp|self_attn)\./, '.$1.base_layer.'));
          // QLoRA's linear weights are 4-bit codes now (their bytes are checked in qlora.test.ts).
          if (spec.name === 'qlora' && now === undefined) continue;
          expect(now, `base parameter ${k} still present`).toBeDefined();
          expect(Buffer.from(now!.buffer).equals(Buffer.from(v.buffer)), `base parameter ${k} bitwise unchanged`).toBe(true);
        }
        const baseOnly = flat(noGrad(() => withBaseOnly(model, () => model.forward(ids))));
        if (spec.name !== 'qlora') expect(maxAbsDiff(baseOnly, baseLogits), 'base-only switch').toBe(0);
      }
      if (spec.name === 'bitfit') {
        for (const [k, v] of before) if (!k.endsWith('.bias')) expect(Buffer.from(after.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
      }
      const trained = flat(noGrad(() => model.forward(ids)));
      expect(maxAbsDiff(trained, baseLogits), 'training changed the outputs').toBeGreaterThan(0);
      if (spec.name === 'full') return;
      // Save → load onto a fresh base: identical logits.
      const out = fs.mkdtempSync(path.join(os.tmpdir(), `peft-${spec.name}-`));
      saveAdapter(model, out);
      const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
      expect(String(cfg.peft_type).startsWith('FINTUNE_')).toBe(!spec.peftFormat);
      const fresh = loadModel(dir);
      if (spec.name === 'qlora') quantizeModel(fresh);
      loadAdapter(fresh, out);
      fresh.eval();
      expect(maxAbsDiff(flat(noGrad(() => fresh.forward(ids))), trained), 'save → load').toBe(0);
      fs.rmSync(out, { recursive: true });
      if (spec.mergeable) {
        applied.merge!();
        expect(maxAbsDiff(flat(noGrad(() => model.forward(ids))), trained), 'merged').toBeLessThan(1e-4);
        // A plain model again: the same keys as the base checkpoint, so saveModel writes an ordinary folder.
        expect([...model.stateDict().keys()]).toEqual([...loadModel(dir).stateDict().keys()]);
      }
    });
  }
});
