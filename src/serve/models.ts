/**
 * The dashboard's default text generator and forecaster: a run's exported model (`final/`, or the run folder
 * itself when it is a checkpoint folder) with its tokenizer, loaded once and kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from '../generate/generate.js';
import { loadModel } from '../models/load.js';
import { loadTokenizer, type Tokenizer } from '../io/tokenizer.js';
import { forecastFromText, inferPrecision } from '../eval/forecaster.js';
import type { CausalLM } from '../models/common.js';

const loaded = new Map<string, { model: CausalLM; tok: Tokenizer }>();

function modelOf(runDir: string): { model: CausalLM; tok: Tokenizer } {
  const dir = fs.existsSync(path.join(runDir, 'final', 'config.json')) ? path.join(runDir, 'final') : runDir;
  let hit = loaded.get(dir);
  if (!hit) {
    if (!fs.existsSync(path.join(dir, 'config.json'))) throw new Error(`${runDir}: no model (final/config.json) to run`);
    hit = { model: loadModel(dir), tok: loadTokenizer(dir) };
    loaded.set(dir, hit);
  }
  return hit;
}

export async function generateForRun(runDir: string, prompt: string, maxNewTokens: number): Promise<string> {
  const { model, tok } = modelOf(runDir);
  const ids = tok.encode(prompt);
  const r = generate(model, [ids], { maxNewTokens, eosTokenId: [...tok.eosIds], decode: (x) => tok.decode(x, { skipSpecialTokens: true }) });
  return r.text[0] ?? '';
}

/** Forecast from raw closes with the run's model, at the precision its config records (or the closes show). */
export async function forecastForRun(runDir: string, closes: number[], horizon: number): Promise<number[]> {
  const { model, tok } = modelOf(runDir);
  const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8').toString() || '{}') as { data?: { precision?: number } };
  const precision = cfg.data?.precision ?? inferPrecision(closes);
  const text = closes.map((c) => c.toFixed(precision)).join(' ') + ' ';
  const f = forecastFromText(model, tok, text, closes[closes.length - 1]!, { horizon, precision });
  if (!f.parse_ok) throw new Error(`the model's output did not parse into ${horizon} numbers: ${JSON.stringify(f.raw)}`);
  return f.predicted;
}
