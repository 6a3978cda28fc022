/**
 * Fuzz: truncated and mutated tokenizer files, seeded. Each one either loads (a mutation can leave a valid file)
 * and then encodes and decodes without crashing, or fails with an Error whose message starts with the path of the
 * file at fault. Never a TypeError from deep inside the library, never a hang.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer, saveNumericTokenizer } from '../../src/io/tokenizer.js';
import {
  byteLevelTokenizerJson,
  llama2StyleTokenizerJson,
  metaspaceTokenizerJson,
  mutate,
  removeDir,
  rng,
  writeTokenizerDir,
  type Json,
} from './tokenizer_fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

/** Loads `dir`; on failure the message must start with `file`. On success, the tokenizer must work on sample text. */
function check(dir: string, file: string): 'loaded' | 'refused' {
  let tok;
  try {
    tok = loadTokenizer(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    if (!msg.startsWith(file)) throw new Error(`error does not name ${file}: ${msg}`);
    return 'refused';
  }
  for (const text of ['hello world', ' 1.10234 1.10251\n', 'héllo</s><|endoftext|>😀', '']) {
    const ids = tok.encode(text);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
    expect(typeof tok.decode(ids)).toBe('string');
    expect(typeof tok.decode(ids, { skipSpecialTokens: true })).toBe('string');
  }
  return 'loaded';
}

function numericJson(): Record<string, unknown> {
  const d = writeTokenizerDir({});
  dirs.push(d);
  saveNumericTokenizer(d);
  return JSON.parse(fs.readFileSync(path.join(d, 'tokenizer.json'), 'utf8'));
}

const BASES: [string, () => Record<string, unknown>][] = [
  ['byte-level', byteLevelTokenizerJson],
  ['llama-2', llama2StyleTokenizerJson],
  ['metaspace', () => metaspaceTokenizerJson(true)],
  ['numeric', numericJson],
];

describe('tokenizer.json fuzz', () => {
  it('truncated files are refused with an error naming tokenizer.json', () => {
    const r = rng(1);
    let n = 0;
    for (const [, make] of BASES) {
      const text = JSON.stringify(make());
      for (let k = 0; k < 20; k++) {
        const cut = Math.floor(r() * text.length);
        const dir = writeTokenizerDir({ 'tokenizer.json': text.slice(0, cut) });
        dirs.push(dir);
        expect(check(dir, path.join(dir, 'tokenizer.json'))).toBe('refused');
        n++;
      }
    }
    expect(n).toBe(80);
  });

  it('structurally mutated files load and work, or are refused naming tokenizer.json', () => {
    const r = rng(2);
    const outcome = { loaded: 0, refused: 0 };
    for (const [, make] of BASES) {
      const base = make() as Json;
      for (let k = 0; k < 40; k++) {
        let j = mutate(base, r);
        if (r() < 0.3) j = mutate(j, r); // sometimes two mutations
        const dir = writeTokenizerDir({ 'tokenizer.json': j });
        dirs.push(dir);
        outcome[check(dir, path.join(dir, 'tokenizer.json'))]++;
      }
    }
    // Both outcomes occur: the fuzz exercises the refusals and the loader, not just JSON.parse.
    expect(outcome.refused).toBeGreaterThan(40);
    expect(outcome.loaded).toBeGreaterThan(5);
  });

  it('byte-flipped files load and work, or are refused naming tokenizer.json', () => {
    const r = rng(3);
    for (const [, make] of BASES) {
      const bytes = Buffer.from(JSON.stringify(make()));
      for (let k = 0; k < 15; k++) {
        const b = Buffer.from(bytes);
        const flips = 1 + Math.floor(r() * 3);
        for (let f = 0; f < flips; f++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        const dir = writeTokenizerDir({});
        dirs.push(dir);
        fs.writeFileSync(path.join(dir, 'tokenizer.json'), b);
        check(dir, path.join(dir, 'tokenizer.json'));
      }
    }
  });

  it('mutated tokenizer_config.json and vocab.json are refused naming their file', () => {
    const r = rng(4);
    const config: Json = {
      tokenizer_class: 'LlamaTokenizer',
      bos_token: { content: '<s>', lstrip: false },
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
      additional_special_tokens: ['</s>'],
      chat_template: [{ name: 'default', template: '{{ bos_token }}{{ messages[0].content }}' }],
    };
    for (let k = 0; k < 30; k++) {
      const dir = writeTokenizerDir({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': mutate(config, r) });
      dirs.push(dir);
      const res = check(dir, path.join(dir, 'tokenizer_config.json'));
      if (res === 'loaded') {
        // A template that loads must render or fail naming the config file.
        try {
          loadTokenizer(dir).applyChatTemplate([{ role: 'user', content: 'hi' }]);
        } catch (err) {
          const msg = (err as Error).message;
          if (!msg.startsWith(path.join(dir, 'tokenizer_config.json')) && !msg.includes('has no chat template')) throw err;
        }
      }
    }
  });
});
