/**
 * Opt-in (FINTUNE_SLOW_TESTS=1): a synthetic sharded checkpoint with real Llama-3.2-1B shapes in bf16 (~2.5 GB)
 * loads with RSS growing by at most 1.2× the weights' bytes — weights go straight into bf16 parameters, never
 * through f32 and never held twice. The load runs in a fresh process (compiled dist/) so the figure is its own.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { ROOT } from '../helpers/paths.js';

const slow = process.env.FINTUNE_SLOW_TESTS === '1';

describe.skipIf(!slow)('large bf16 checkpoint (opt-in: FINTUNE_SLOW_TESTS=1)', () => {
  it('loads a 1.2B-parameter sharded bf16 Llama with RSS growth <= 1.2x its weights', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-llama1b-'));
    try {
      const c = { hidden: 2048, inter: 8192, layers: 16, heads: 32, kv: 8, vocab: 128256 };
      const hd = c.hidden / c.heads;
      const shapes: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab, c.hidden]], ['model.norm.weight', [c.hidden]]];
      for (let l = 0; l < c.layers; l++) {
        const p = `model.layers.${l}.`;
        shapes.push(
          [p + 'input_layernorm.weight', [c.hidden]],
          [p + 'post_attention_layernorm.weight', [c.hidden]],
          [p + 'self_attn.q_proj.weight', [c.heads * hd, c.hidden]],
          [p + 'self_attn.k_proj.weight', [c.kv * hd, c.hidden]],
          [p + 'self_attn.v_proj.weight', [c.kv * hd, c.hidden]],
          [p + 'self_attn.o_proj.weight', [c.hidden, c.heads * hd]],
          [p + 'mlp.gate_proj.weight', [c.inter, c.hidden]],
          [p + 'mlp.up_proj.weight', [c.inter, c.hidden]],
          [p + 'mlp.down_proj.weight', [c.hidden, c.inter]],
        );
      }
      // Two shards, each tensor produced only when written.
      const weightMap: Record<string, string> = {};
      let bytes = 0;
      const half = Math.ceil(shapes.length / 2);
      [shapes.slice(0, half), shapes.slice(half)].forEach((part, i) => {
        const name = `model-0000${i + 1}-of-00002.safetensors`;
        const m = new Map(
          part.map(([k, s]) => {
            weightMap[k] = name;
            const n = s.reduce((a, b) => a * b, 1);
            bytes += 2 * n;
            return [k, { dtype: 'BF16' as const, shape: s, load: () => new Uint16Array(n).fill(0x3c00 + (n % 7)) }];
          }),
        );
        writeSafetensors(path.join(dir, name), m);
      });
      writeFileAtomic(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }));
      writeFileAtomic(
        path.join(dir, 'config.json'),
        JSON.stringify({
          model_type: 'llama', vocab_size: c.vocab, hidden_size: c.hidden, intermediate_size: c.inter,
          num_hidden_layers: c.layers, num_attention_heads: c.heads, num_key_value_heads: c.kv,
          max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: true,
          rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
          torch_dtype: 'bfloat16', hidden_act: 'silu',
        }),
      );
      const script = `
        const { loadModel } = await import(${JSON.stringify(path.join(ROOT, 'dist/models/load.js'))});
        global.gc(); const before = process.memoryUsage().rss;
        const m = loadModel(${JSON.stringify(dir)}, { dtype: 'bf16' });
        global.gc(); const after = process.memoryUsage().rss;
        console.log(JSON.stringify({ grew: after - before, params: m.parameters().length }));`;
      const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const { grew } = JSON.parse(out.trim().split('\n').pop()!);
      console.log(`weights ${(bytes / 2 ** 30).toFixed(2)} GiB, RSS grew ${(grew / 2 ** 30).toFixed(2)} GiB (${(grew / bytes).toFixed(3)}x)`);
      expect(grew / bytes).toBeLessThanOrEqual(1.2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
