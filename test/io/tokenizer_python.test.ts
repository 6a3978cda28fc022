/**
 * Opt-in: agreement with Hugging Face's Python `tokenizers` (the Rust implementation) on the same files.
 *
 *   FINTUNE_TOKENIZERS_PYTHON=/path/to/python npx vitest run test/io/tokenizer_python
 *
 * The Python must import `tokenizers` (e.g. a venv with the wheel installed, `pip install tokenizers`). Skipped
 * when the variable is unset: CI machines have no Python package index.
 *
 * Checked: every test fixture and the numeric tokenizer (character level and trained) encode and decode alike,
 * and seeded mutations of the fixtures that loadTokenizer accepts are accepted by Python too and encode alike —
 * the validation in src/io/tokenizers/validate.ts refuses what the JS library would tokenize differently.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer, saveNumericTokenizer, trainNumericBpe } from '../../src/io/tokenizer.js';
import {
  byteLevelFamilyJson,
  byteLevelTokenizerJson,
  llama2StyleTokenizerJson,
  metaspaceTokenizerJson,
  mutate,
  removeDir,
  rng,
  writeTokenizerDir,
  type Json,
} from './tokenizer_fixtures.js';

const PYTHON = process.env.FINTUNE_TOKENIZERS_PYTHON;

const TEXTS = [
  'hello world',
  ' hello',
  '  hello',
  'hello  world x',
  'héllo 😀 world',
  'world\nhello',
  'hello</s>world',
  'hello </s> world <|endoftext|> x',
  'hello<|endoftext|>world',
  '1.10234 1.10251\n',
  'a . b',
  "I don't",
  '\t x \n\n y',
  '-0.5%, +1.25 (3/4)',
  "12345 3456 I'LL e\u0301 <|im_start|>x<|im_end|><|begin_of_text|>",
];

const PY_SCRIPT = `
import json, sys
from tokenizers import Tokenizer
jobs = json.loads(sys.stdin.read())
out = []
for job in jobs:
    try:
        t = Tokenizer.from_file(job["file"])
    except Exception as e:
        out.append({"error": str(e)})
        continue
    res = []
    for s in job["texts"]:
        ids = t.encode(s).ids
        res.append([ids, t.decode(ids, skip_special_tokens=False), t.decode(ids, skip_special_tokens=True)])
    out.append({"results": res})
print(json.dumps(out))
`;

interface PyResult {
  error?: string;
  results?: [number[], string, string][];
}

function runPython(files: string[], texts: string[]): PyResult[] {
  const input = JSON.stringify(files.map((file) => ({ file, texts })));
  const out = execFileSync(PYTHON!, ['-c', PY_SCRIPT], { input, maxBuffer: 1 << 28 });
  return JSON.parse(out.toString('utf8'));
}

const dirs: string[] = [];
function dirWith(files: Record<string, unknown>): string {
  const d = writeTokenizerDir(files);
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach(removeDir));

function expectAgreement(dir: string, py: PyResult, texts: string[]): void {
  expect(py.error, `${dir}: Python refused it`).toBeUndefined();
  const tok = loadTokenizer(dir);
  texts.forEach((s, i) => {
    const ids = tok.encode(s);
    const [pyIds, pyDec, pyDecSkip] = py.results![i]!;
    expect(ids, `${dir} ${JSON.stringify(s)}`).toEqual(pyIds);
    // Python's decode does no clean-up of spaces; neither does ours by default.
    expect(tok.decode(ids), `${dir} decode ${JSON.stringify(s)}`).toBe(pyDec);
    expect(tok.decode(ids, { skipSpecialTokens: true }), `${dir} decode(skip) ${JSON.stringify(s)}`).toBe(pyDecSkip);
  });
}

describe.skipIf(!PYTHON)('agreement with Python tokenizers', () => {
  it('fixtures and numeric tokenizers encode and decode alike', () => {
    const withDoubleSpace = (split: boolean): Json => {
      const j = metaspaceTokenizerJson(split) as any;
      j.model.vocab['▁▁'] = 277;
      j.model.merges = [['▁', '▁'], ...j.model.merges];
      return j;
    };
    const cases = [
      dirWith({ 'tokenizer.json': byteLevelTokenizerJson() }),
      dirWith({ 'tokenizer.json': llama2StyleTokenizerJson() }),
      dirWith({ 'tokenizer.json': metaspaceTokenizerJson(false) }),
      dirWith({ 'tokenizer.json': metaspaceTokenizerJson(true) }),
      dirWith({ 'tokenizer.json': withDoubleSpace(false) }),
      dirWith({ 'tokenizer.json': withDoubleSpace(true) }),
      dirWith({ 'tokenizer.json': byteLevelFamilyJson('llama3') }),
      dirWith({ 'tokenizer.json': byteLevelFamilyJson('qwen2') }),
    ];
    const numeric = dirWith({});
    saveNumericTokenizer(numeric);
    let corpus = '';
    let p = 1.1;
    const r = rng(5);
    for (let i = 0; i < 3000; i++) {
      p += (r() - 0.5) * 0.001;
      corpus += p.toFixed(5) + (i % 5 === 4 ? '\n' : ' ');
    }
    const trained = dirWith({});
    saveNumericTokenizer(trained, { merges: trainNumericBpe(corpus, { vocabSize: 200 }) });
    cases.push(numeric, trained);
    const texts = [...TEXTS, corpus.slice(0, 2000)];
    const py = runPython(cases.map((d) => path.join(d, 'tokenizer.json')), texts);
    cases.forEach((d, i) => expectAgreement(d, py[i]!, texts));
  });

  it('mutated files that loadTokenizer accepts, Python accepts and encodes alike', () => {
    const r = rng(11);
    const accepted: string[] = [];
    const makers = [
      byteLevelTokenizerJson,
      llama2StyleTokenizerJson,
      () => metaspaceTokenizerJson(true),
      () => byteLevelFamilyJson('llama3'),
      () => byteLevelFamilyJson('qwen2'),
    ];
    for (const make of makers) {
      const base = make() as Json;
      for (let k = 0; k < 150; k++) {
        const j = mutate(base, r) as any;
        // Truncation and padding are ignored by this loader (only their shape is checked), so Python's stricter
        // reading of them is not a disagreement about tokenization.
        if (j === null || typeof j !== 'object' || j.truncation != null || j.padding != null) continue;
        const dir = dirWith({ 'tokenizer.json': j });
        try {
          loadTokenizer(dir);
        } catch {
          continue;
        }
        accepted.push(dir);
      }
    }
    expect(accepted.length).toBeGreaterThan(30);
    const py = runPython(accepted.map((d) => path.join(d, 'tokenizer.json')), TEXTS);
    accepted.forEach((d, i) => expectAgreement(d, py[i]!, TEXTS));
    // Keep the folders from piling up in /tmp between runs.
    for (const d of accepted) fs.rmSync(d, { recursive: true, force: true });
  });
});
