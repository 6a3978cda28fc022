/**
 * A tokenizer for from-scratch price models: a small vocabulary of the characters numbers are written with,
 * optionally grown by byte-pair merges learned from a price corpus, saved as an ordinary `tokenizer.json`.
 *
 * Why these choices:
 *  - Standard parts only — a `BPE` model, a `Split` pre-tokenizer and a `Fuse` decoder — so Hugging Face's Python
 *    `tokenizers` (and transformers' PreTrainedTokenizerFast) load the saved folder as they would any other, and
 *    so does our own `loadTokenizer`; there is no second code path for numbers.
 *  - The pre-tokenizer isolates every whitespace character (`Split` on `\s`, behavior `Isolated`), so a merge
 *    never spans two numbers and " " and "\n" are always tokens of their own: the boundaries a model of prices
 *    must get right are never hidden inside a merged token.
 *  - With no merges it is a character-level tokenizer (one token per digit), a sound default for numbers; with
 *    merges, frequent prefixes such as "1.10" become single tokens and sequences get shorter.
 *  - Merges are stored in the "a b" string form, which every version of the Python library reads; merged tokens
 *    never contain whitespace, so the form is unambiguous.
 *  - A character outside the alphabet encodes to <unk> (it would otherwise vanish silently in Python).
 *
 * Ids: the three special tokens first (<|endoftext|> = 0, <|pad|> = 1, <unk> = 2), then the alphabet in the order
 * of NUMERIC_ALPHABET, then merged tokens in the order they were learned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';

export const NUMERIC_SPECIAL_TOKENS = { eos: '<|endoftext|>', pad: '<|pad|>', unk: '<unk>' } as const;

/** Digits, the signs and separators prices are written with, and a few symbols for headers and dates. */
export const NUMERIC_ALPHABET: readonly string[] = Object.freeze([
  ...'0123456789',
  '.',
  '-',
  '+',
  ' ',
  '\n',
  ',',
  ':',
  ';',
  '/',
  '%',
  '|',
  '=',
  '(',
  ')',
  '\t',
]);

export interface NumericTokenizerOptions {
  /** Learned merges, best first (from trainNumericBpe). Default none: character level. */
  merges?: readonly (readonly [string, string])[];
  /** Characters to add to NUMERIC_ALPHABET (e.g. "e" for scientific notation, letters of a header). */
  extraChars?: readonly string[];
}

export interface NumericBpeTrainOptions {
  /** Target vocabulary size, special tokens and alphabet included. */
  vocabSize: number;
  /** A pair must occur at least this often (counting repeats of a word) to be merged. Default 2. */
  minFrequency?: number;
  extraChars?: readonly string[];
}

function alphabetWith(extra: readonly string[] = []): string[] {
  const chars = [...NUMERIC_ALPHABET];
  for (const c of extra) {
    if ([...c].length !== 1) throw new Error(`numeric tokenizer: extra character ${JSON.stringify(c)} is not one character`);
    if (Object.values(NUMERIC_SPECIAL_TOKENS).includes(c as never)) continue;
    if (!chars.includes(c)) chars.push(c);
  }
  return chars;
}

const WHITESPACE = /\s/u;

/** Builds the tokenizer.json object (see the module comment). */
export function buildNumericTokenizerJson(opts: NumericTokenizerOptions = {}): Record<string, unknown> {
  const alphabet = alphabetWith(opts.extraChars);
  const vocab: Record<string, number> = {};
  const specials = [NUMERIC_SPECIAL_TOKENS.eos, NUMERIC_SPECIAL_TOKENS.pad, NUMERIC_SPECIAL_TOKENS.unk];
  // Null-prototype so that a token like "constructor" could never collide with Object.prototype.
  Object.setPrototypeOf(vocab, null);
  let next = 0;
  for (const t of [...specials, ...alphabet]) vocab[t] = next++;
  const merges: string[] = [];
  for (const [i, pair] of (opts.merges ?? []).entries()) {
    const [a, b] = pair;
    if (!(a in vocab) || !(b in vocab)) {
      throw new Error(`numeric tokenizer: merges[${i}] ${JSON.stringify(pair)} uses a token not in the vocabulary so far`);
    }
    if (WHITESPACE.test(a + b) || specials.includes(a as never) || specials.includes(b as never)) {
      throw new Error(`numeric tokenizer: merges[${i}] ${JSON.stringify(pair)} would merge whitespace or a special token`);
    }
    // The same string can be reached by two merge orders ("1." + "1" and "1" + ".1"): one token, two merges.
    if (!(a + b in vocab)) vocab[a + b] = next++;
    merges.push(`${a} ${b}`);
  }
  const added = specials.map((content) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: NUMERIC_SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: { ...vocab },
      merges,
    },
  };
}

/**
 * Learns BPE merges from price text. Words are the maximal runs of alphabet characters between whitespace (what
 * the saved pre-tokenizer produces); characters outside the alphabet end a word, since they become <unk>.
 *
 * Each step merges the most frequent adjacent pair, counting a word once per occurrence in the corpus. Ties go
 * to the pair whose first token, then second token, sorts first by UTF-16 code units — so the result depends
 * only on the corpus, not on Map iteration order or on the order words were seen.
 */
export function trainNumericBpe(corpus: string | readonly string[], opts: NumericBpeTrainOptions): [string, string][] {
  const alphabet = new Set(alphabetWith(opts.extraChars));
  const minFrequency = opts.minFrequency ?? 2;
  const baseSize = 3 + alphabet.size;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < baseSize) {
    throw new Error(`trainNumericBpe: vocabSize must be an integer ≥ ${baseSize} (specials + alphabet), got ${opts.vocabSize}`);
  }

  // Word frequencies.
  const freq = new Map<string, number>();
  const addWord = (w: string): void => {
    if (w.length > 0) freq.set(w, (freq.get(w) ?? 0) + 1);
  };
  for (const text of typeof corpus === 'string' ? [corpus] : corpus) {
    let word = '';
    for (const ch of text) {
      if (WHITESPACE.test(ch) || !alphabet.has(ch)) {
        addWord(word);
        word = '';
      } else {
        word += ch;
      }
    }
    addWord(word);
  }

  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, n] of freq) {
    words.push([...w]);
    counts.push(n);
  }

  // Pair statistics, kept up to date incrementally: only the words containing the merged pair change.
  // A pair key joins the two tokens with U+0000, which no token contains; comparing keys as strings therefore
  // compares (first, second) lexicographically, which is the tie-break rule.
  const SEP = '\u0000';
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const syms = words[wi]!;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i] + SEP + syms[i + 1];
      const c = (pairCount.get(key) ?? 0) + sign * counts[wi]!;
      if (c === 0) pairCount.delete(key);
      else pairCount.set(key, c);
      if (sign === 1) {
        let s = pairWords.get(key);
        if (s === undefined) pairWords.set(key, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const vocab = new Set<string>(alphabet);
  const merges: [string, string][] = [];
  let size = baseSize;
  while (size < opts.vocabSize) {
    let bestKey: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && bestKey !== null && key < bestKey)) {
        bestKey = key;
        bestCount = c;
      }
    }
    if (bestKey === null || bestCount < minFrequency) break;
    const sep = bestKey.indexOf(SEP);
    const a = bestKey.slice(0, sep);
    const b = bestKey.slice(sep + 1);
    const merged = a + b;
    merges.push([a, b]);
    if (!vocab.has(merged)) {
      vocab.add(merged);
      size++;
    }
    const affected = pairWords.get(bestKey) ?? new Set<number>();
    pairWords.delete(bestKey);
    for (const wi of affected) {
      const syms = words[wi]!;
      addPairs(wi, -1);
      // Left to right, non-overlapping: "1 1 1" with pair (1,1) becomes "11 1", as BPE applies merges.
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(merged);
          i++;
        } else {
          out.push(syms[i]!);
        }
      }
      words[wi] = out;
      addPairs(wi, 1);
    }
  }
  return merges;
}

/**
 * Writes a numeric tokenizer to `dir`: tokenizer.json, plus tokenizer_config.json and special_tokens_map.json
 * declaring <|endoftext|> as BOS/EOS (as GPT-2 does), <|pad|> and <unk>, so transformers' AutoTokenizer and our
 * loadTokenizer find the same special tokens. Returns the tokenizer.json path.
 */
export function saveNumericTokenizer(dir: string, opts: NumericTokenizerOptions = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const json = buildNumericTokenizerJson(opts);
  const specials = {
    bos_token: NUMERIC_SPECIAL_TOKENS.eos,
    eos_token: NUMERIC_SPECIAL_TOKENS.eos,
    pad_token: NUMERIC_SPECIAL_TOKENS.pad,
    unk_token: NUMERIC_SPECIAL_TOKENS.unk,
  };
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  writeFileAtomic(tokenizerFile, JSON.stringify(json, null, 2) + '\n');
  writeFileAtomic(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify(
      {
        tokenizer_class: 'PreTrainedTokenizerFast',
        ...specials,
        // Decoding must give back exactly the number text that was encoded.
        clean_up_tokenization_spaces: false,
        model_max_length: 1_000_000_000,
      },
      null,
      2,
    ) + '\n',
  );
  writeFileAtomic(path.join(dir, 'special_tokens_map.json'), JSON.stringify(specials, null, 2) + '\n');
  return tokenizerFile;
}
