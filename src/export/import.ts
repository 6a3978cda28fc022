/**
 * `fintune import`: bring back what an exported job produced — its adapter (PEFT format) or merged model, and
 * its forecasts and generations (fintune's own JSONL formats) — as a run folder that evaluation, back-tests,
 * reports and the dashboard read like any local run. Every file is validated on the way in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { readAll, readForecasts, readGenerations, writeForecasts, writeGenerations } from '../eval/schema.js';

export interface ImportResult {
  runDir: string;
  kind: 'adapter' | 'model' | 'results-only';
  forecasts: number;
  generations: number;
  files: string[];
}

/** Copy a folder's regular files (one level: PEFT adapters and HF checkpoints are flat). */
function copyFlat(src: string, dst: string): string[] {
  fs.mkdirSync(dst, { recursive: true });
  const out: string[] = [];
  for (const ent of fs.readdirSync(src, { withFileTypes: true })) {
    if (!ent.isFile()) continue;
    fs.copyFileSync(path.join(src, ent.name), path.join(dst, ent.name));
    out.push(path.join(dst, ent.name));
  }
  return out;
}

function readJson(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Import from a job folder (with job.json and out/) or directly from a results folder (out/ itself).
 * The adapter goes to RUN/final (adapter_config.json + adapter_model.safetensors); a merged model likewise.
 */
export async function importJob(from: string, runDir: string): Promise<ImportResult> {
  if (fs.existsSync(runDir) && fs.readdirSync(runDir).length > 0) throw new Error(`${runDir}: already exists and is not empty`);
  // Build the run in a staging folder and rename it at the end: a failed import leaves nothing behind.
  const staging = `${runDir}.importing-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const r = await importInto(from, staging);
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.renameSync(staging, runDir);
    return { ...r, runDir, files: r.files.map((f) => path.join(runDir, path.relative(staging, f))) };
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

async function importInto(from: string, runDir: string): Promise<ImportResult> {
  const jobFile = path.join(from, 'job.json');
  const job = fs.existsSync(jobFile) ? readJson(jobFile) : null;
  const out = fs.existsSync(path.join(from, 'out')) ? path.join(from, 'out') : from;
  const files: string[] = [];
  let kind: ImportResult['kind'] = 'results-only';
  const adapterDir = [path.join(out, 'adapter'), out].find((d) => fs.existsSync(path.join(d, 'adapter_config.json')));
  const modelDir = [path.join(out, 'model'), out].find((d) => fs.existsSync(path.join(d, 'config.json')) && fs.readdirSync(d).some((f) => f.endsWith('.safetensors')));
  fs.mkdirSync(runDir, { recursive: true });
  if (adapterDir) {
    const cfg = readJson(path.join(adapterDir, 'adapter_config.json'));
    if (typeof cfg.peft_type !== 'string') throw new Error(`${adapterDir}/adapter_config.json: no "peft_type"`);
    if (!fs.existsSync(path.join(adapterDir, 'adapter_model.safetensors'))) {
      throw new Error(`${adapterDir}: adapter_model.safetensors is missing (a .bin adapter must be converted to safetensors first)`);
    }
    files.push(...copyFlat(adapterDir, path.join(runDir, 'final')));
    kind = 'adapter';
  } else if (modelDir) {
    files.push(...copyFlat(modelDir, path.join(runDir, 'final')));
    kind = 'model';
  }
  let forecasts = 0,
    generations = 0;
  const fFile = path.join(out, 'forecasts.jsonl');
  if (fs.existsSync(fFile)) {
    const recs = await readAll(readForecasts(fFile)); // validates each line, errors name FILE:LINE
    writeForecasts(path.join(runDir, 'forecasts.jsonl'), recs);
    forecasts = recs.length;
    files.push(path.join(runDir, 'forecasts.jsonl'));
  }
  const gFile = path.join(out, 'generations.jsonl');
  if (fs.existsSync(gFile)) {
    const recs = await readAll(readGenerations(gFile));
    writeGenerations(path.join(runDir, 'generations.jsonl'), recs);
    generations = recs.length;
    files.push(path.join(runDir, 'generations.jsonl'));
  }
  if (kind === 'results-only' && forecasts === 0 && generations === 0) {
    throw new Error(`${from}: nothing to import (no out/adapter, out/model, forecasts.jsonl or generations.jsonl)`);
  }
  const config = {
    source: 'import',
    importedFrom: path.resolve(from),
    importedAt: new Date().toISOString(),
    description: { method: job?.method ?? null, model: job?.base_model_name_or_path ?? null, kind },
    job,
  };
  writeFileAtomic(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  files.push(path.join(runDir, 'config.json'));
  return { runDir, kind, forecasts, generations, files };
}
