import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  NUMERIC_ALPHABET,
  buildNumericTokenizerJson,
  loadTokenizer,
  saveNumericTokenizer,
  trainNumericBpe,
} from '../../src/io/tokenizer.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-numtok-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

// Ids: <|endoftext|> 0, <|pad|> 1, <unk> 2, then NUMERIC_ALPHABET from 3: digits 3..12, "." 13, "-" 14,
// "+" 15, " " 16, "\n" 17, "," 18, ":" 19, ";" 20, "/" 21, "%" 22, "|" 23, "=" 24, "(" 25, ")" 26, "\t" 27.
const digit = (c: string): number => 3 + Number(c);
const DOT = 13, MINUS = 14, SPACE = 16, NL = 17;

/** Seeded price text: a random walk around 1.1 with 5 decimals, five prices per line. */
function priceText(n: number, seed: number): string {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  let p = 1.1;
  let out = '';
  for (let i = 0; i < n; i++) {
    p += (rand() - 0.5) * 0.002;
    out += p.toFixed(5) + (i % 5 === 4 ? '\n' : ' ');
  }
  return out;
}

describe('character-level numeric tokenizer', () => {
  const dir = tmp();
  saveNumericTokenizer(dir);
  const tok = loadTokenizer(dir);

  it('has the documented ids and special tokens', () => {
    expect(NUMERIC_ALPHABET.slice(0, 15)).toEqual([...'0123456789', '.', '-', '+', ' ', '\n']);
    expect(tok.vocabSize).toBe(3 + NUMERIC_ALPHABET.length);
    expect([tok.eosId, tok.bosId, tok.padId, tok.unkId]).toEqual([0, 0, 1, 2]);
    expect(tok.eosIds).toEqual([0]);
    expect(tok.tokenToId('.')).toBe(DOT);
    expect(tok.tokenToId('\n')).toBe(NL);
  });

  it('encodes one token per character, worked by hand', () => {
    const ids = tok.encode('1.10234 1.10251\n');
    expect(ids).toEqual([
      digit('1'), DOT, digit('1'), digit('0'), digit('2'), digit('3'), digit('4'), SPACE,
      digit('1'), DOT, digit('1'), digit('0'), digit('2'), digit('5'), digit('1'), NL,
    ]);
    expect(tok.decode(ids)).toBe('1.10234 1.10251\n');
    expect(tok.encode('-0.5')).toEqual([MINUS, digit('0'), DOT, digit('5')]);
  });

  it('round-trips price text exactly, separators and specials included', () => {
    for (const s of [priceText(200, 1), '-12.5% +3.25 (1/2)\t7:30;=|,', '  \n\n 0.00001 ', '1.1<|endoftext|>1.2']) {
      const ids = tok.encode(s);
      expect(ids.includes(2)).toBe(false); // no <unk>
      expect(tok.decode(ids)).toBe(s);
    }
    expect(tok.encode('1.1<|endoftext|>1.2')).toEqual([digit('1'), DOT, digit('1'), 0, digit('1'), DOT, digit('2')]);
    expect(tok.decode(tok.encode('1.1<|endoftext|>1.2'), { skipSpecialTokens: true })).toBe('1.11.2');
  });

  it('maps characters outside the alphabet to <unk>', () => {
    expect(tok.encode('1x2')).toEqual([digit('1'), 2, digit('2')]);
    expect(tok.decode([digit('1'), 2])).toBe('1<unk>');
  });

  it('writes a standard tokenizer.json and the config files transformers reads', () => {
    const j = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(j.version).toBe('1.0');
    expect(j.model.type).toBe('BPE');
    expect(j.pre_tokenizer).toEqual({ type: 'Split', pattern: { Regex: '\\s' }, behavior: 'Isolated', invert: false });
    expect(j.decoder).toEqual({ type: 'Fuse' });
    expect(j.added_tokens.map((t: any) => [t.id, t.content, t.special])).toEqual([
      [0, '<|endoftext|>', true],
      [1, '<|pad|>', true],
      [2, '<unk>', true],
    ]);
    // Specials are in the model vocabulary with the same ids, so Rust gives them the ids written here.
    expect(j.model.vocab['<|endoftext|>']).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ tokenizer_class: 'PreTrainedTokenizerFast', eos_token: '<|endoftext|>', pad_token: '<|pad|>', clean_up_tokenization_spaces: false });
  });
});

describe('numeric BPE training', () => {
  it('learns merges by count, ties to the smaller pair, worked by hand', () => {
    // Words: "1.10" ×2, "1.12" ×1. Pairs: (1,.) 3, (.,1) 3, (1,0) 2, (1,2) 1.
    // Tie at 3: "." sorts before "1", so (., 1) first → 1 .1 0 / 1 .1 2; then (1, .1) 3 → 1.1 0 / 1.1 2;
    // then (1.1, 0) 2 → 1.10. (1.1, 2) occurs once, below minFrequency 2: stop.
    const merges = trainNumericBpe('1.10 1.10 1.12\n', { vocabSize: 1000 });
    expect(merges).toEqual([
      ['.', '1'],
      ['1', '.1'],
      ['1.1', '0'],
    ]);
    expect(trainNumericBpe('1.10 1.10 1.12\n', { vocabSize: 1000, minFrequency: 1 })).toEqual([...merges, ['1.1', '2']]);
    // The vocabulary size caps the merges: base 3 + alphabet, plus one new token.
    expect(trainNumericBpe('1.10 1.10 1.12\n', { vocabSize: 3 + NUMERIC_ALPHABET.length + 1 })).toEqual([['.', '1']]);

    const dir = tmp();
    saveNumericTokenizer(dir, { merges });
    const tok = loadTokenizer(dir);
    const base = 3 + NUMERIC_ALPHABET.length;
    expect(tok.vocabSize).toBe(base + 3);
    expect([tok.tokenToId('.1'), tok.tokenToId('1.1'), tok.tokenToId('1.10')]).toEqual([base, base + 1, base + 2]);
    // "1.10": (.,1) → 1 .1 0; (1,.1) → 1.1 0; (1.1,0) → 1.10.  "1.12": → 1.1 2.
    expect(tok.encode('1.10 1.12')).toEqual([base + 2, SPACE, base + 1, digit('2')]);
  });

  it('is deterministic: the order of the corpus does not matter', () => {
    // "12" and "34" twice each: a tie; "1" sorts before "3".
    expect(trainNumericBpe(['12 34', '34 12'], { vocabSize: 100 })).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(trainNumericBpe(['34 12', '12 34'], { vocabSize: 100 })).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    const corpus = priceText(2000, 7);
    const lines = corpus.split('\n');
    const shuffled = [...lines].reverse().join('\n');
    expect(trainNumericBpe(shuffled, { vocabSize: 120 })).toEqual(trainNumericBpe(corpus, { vocabSize: 120 }));
  });

  it('never merges across whitespace and only merges what occurs', () => {
    const merges = trainNumericBpe('1 1 1 1 1\n2\n2\n2', { vocabSize: 100 });
    expect(merges).toEqual([]);
    // A run "111": (1,1) occurs twice in one word but the merge is applied left to right, non-overlapping.
    expect(trainNumericBpe('111 111', { vocabSize: 100 })).toEqual([
      ['1', '1'],
      ['11', '1'],
    ]);
  });

  it('round-trips price text exactly with a trained vocabulary, in fewer tokens', () => {
    const corpus = priceText(5000, 3);
    const merges = trainNumericBpe(corpus, { vocabSize: 256 });
    expect(merges.length).toBeGreaterThan(100);
    const dir = tmp();
    saveNumericTokenizer(dir, { merges });
    const tok = loadTokenizer(dir);
    expect(tok.vocabSize).toBe(256);
    const unseen = priceText(500, 99);
    const ids = tok.encode(unseen);
    expect(tok.decode(ids)).toBe(unseen);
    expect(tok.decode(tok.encode('1.10234 1.10251\n'))).toBe('1.10234 1.10251\n');
    expect(ids.length).toBeLessThan(unseen.length * 0.6);
    // Whitespace always stays its own token: each " " and "\n" of the text is one id.
    const spaces = [...unseen].filter((c) => c === ' ' || c === '\n').length;
    expect(ids.filter((id) => id === SPACE || id === NL).length).toBe(spaces);
  });

  it('refuses bad options with clear errors', () => {
    expect(() => trainNumericBpe('1', { vocabSize: 5 })).toThrow(/vocabSize must be an integer ≥/);
    expect(() => buildNumericTokenizerJson({ merges: [['1', 'x']] })).toThrow(/merges\[0\].*not in the vocabulary/);
    expect(() => buildNumericTokenizerJson({ merges: [['1', ' ']] })).toThrow(/whitespace/);
    expect(() => buildNumericTokenizerJson({ extraChars: ['ab'] })).toThrow(/not one character/);
    // Extra characters join the alphabet after the standard ones.
    const j = buildNumericTokenizerJson({ extraChars: ['e', 'E'] }) as any;
    expect(j.model.vocab.e).toBe(3 + NUMERIC_ALPHABET.length);
  });
});
