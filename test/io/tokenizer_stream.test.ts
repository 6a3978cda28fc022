import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../../src/io/tokenizer.js';
import { byteLevelTokenizerJson, llama2StyleTokenizerJson, removeDir, writeTokenizerDir } from './tokenizer_fixtures.js';

const dirs: string[] = [];
function load(json: Record<string, unknown>): Tokenizer {
  const d = writeTokenizerDir({ 'tokenizer.json': json });
  dirs.push(d);
  return loadTokenizer(d);
}
afterAll(() => dirs.forEach(removeDir));

function streamAll(tok: Tokenizer, ids: number[], skipSpecialTokens = false): string[] {
  const s = tok.decodeStream({ skipSpecialTokens });
  const pieces = ids.map((id) => s.push(id));
  pieces.push(s.flush());
  return pieces;
}

describe('streaming decode', () => {
  it('holds back partial UTF-8 characters of byte-level tokens', () => {
    const tok = load(byteLevelTokenizerJson());
    // 😀 is F0 9F 98 80: four byte tokens; the character appears with the fourth.
    const ids = tok.encode('hi 😀!');
    expect(ids).toEqual([0x68, 0x69, 0x20, 0xf0, 0x9f, 0x98, 0x80, 0x21]);
    expect(streamAll(tok, ids)).toEqual(['h', 'i', ' ', '', '', '', '😀', '!', '']);
  });

  it('keeps SentencePiece spaces that decoding one token alone would strip', () => {
    const tok = load(llama2StyleTokenizerJson());
    const ids = tok.encode('hello world\nhé 😀 hello');
    // Decoding "▁world" alone gives "world": the stream must give " world".
    const pieces = streamAll(tok, ids, true);
    expect(pieces.slice(0, 3)).toEqual(['', 'hello', ' world']);
    expect(pieces.join('')).toBe('hello world\nhé 😀 hello');
    expect(streamAll(tok, ids).join('')).toBe(tok.decode(ids));
  });

  it('gives the same text as decoding everything, on many random id sequences', () => {
    for (const tok of [load(byteLevelTokenizerJson()), load(llama2StyleTokenizerJson())]) {
      let seed = 9;
      for (let k = 0; k < 50; k++) {
        const ids: number[] = [];
        for (let i = 0; i < 30; i++) {
          seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
          ids.push(seed % tok.vocabSize);
        }
        for (const skip of [false, true]) {
          const full = tok.decode(ids, { skipSpecialTokens: skip });
          const streamed = streamAll(tok, ids, skip).join('');
          // Invalid UTF-8 in random bytes decodes to U+FFFD either way; compare the text as a whole.
          expect(streamed).toBe(full);
        }
      }
    }
  });

  it('flushes an incomplete character at the end as U+FFFD', () => {
    const tok = load(byteLevelTokenizerJson());
    const s = tok.decodeStream();
    expect(s.push(0x61)).toBe('a');
    expect(s.push(0xf0)).toBe('');
    expect(s.push(0x9f)).toBe('');
    expect(s.flush()).toBe('\uFFFD');
    expect(s.flush()).toBe('');
  });
});

describe('token pieces (the text each id adds after other text)', () => {
  it('keeps SentencePiece leading spaces and marks partial characters', () => {
    const sp = load(llama2StyleTokenizerJson());
    const pieces = sp.tokenPieces();
    expect(pieces.length).toBe(sp.vocabSize);
    expect(sp.decode([276])).toBe('world'); // alone, the Strip decoder eats the space…
    expect(pieces[276]).toBe(' world'); // …after other text it does not.
    expect(pieces[262]).toBe('l');
    expect(pieces[3 + 0x31]).toBe('1'); // <0x31>
    expect(pieces[3 + 0xc3]).toBe('\uFFFD'); // half of a two-byte character
    expect(pieces[2]).toBe('</s>');
    expect(sp.tokenPieces()).toBe(pieces); // cached

    const bl = load(byteLevelTokenizerJson());
    expect(bl.tokenPieces()[262]).toBe(' wor');
    expect(bl.tokenPieces()[0x31]).toBe('1');
  });
});
