/**
 * Tiny but real tokenizer files for the tokenizer tests (there is no hub; the shared fixtures have no tokenizer).
 * Every id below is chosen so that expected encodings can be worked out by hand in the tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 as rng } from '../helpers/prng.js';
export { mulberry32 as rng } from '../helpers/prng.js';

/** A fresh temporary folder holding the given files (objects are written as JSON). */
export function writeTokenizerDir(files: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-tok-'));
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * GPT-2's byte → character table: printable Latin-1 bytes stand for themselves; the other 68 bytes (controls,
 * space, DEL, NBSP, soft hyphen, ...) are moved, in byte order, to U+0100 onwards — so space (0x20, the 33rd
 * such byte) is U+0120 "Ġ" and newline (0x0A, the 11th) is U+010A "Ċ".
 */
export function byteToChar(): string[] {
  const table: string[] = new Array(256);
  let moved = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 0x100 + moved++);
  }
  return table;
}

/**
 * Byte-level BPE (GPT-2 layout). Ids 0–255 are the single bytes (id = byte value), then the merged tokens in
 * merge order, then <|endoftext|>:
 *   256 "he" (h e)   257 "hel" (he l)   258 "lo" (l o)   259 "Ġh" (Ġ h)
 *   260 "or" (o r)   261 "Ġw" (Ġ w)     262 "Ġwor" (Ġw or)   263 "ld" (l d)   264 <|endoftext|>
 */
export const BL_MERGES: [string, string][] = [
  ['h', 'e'],
  ['he', 'l'],
  ['l', 'o'],
  ['Ġ', 'h'],
  ['o', 'r'],
  ['Ġ', 'w'],
  ['Ġw', 'or'],
  ['l', 'd'],
];
export const BL_EOT = 264;

export function byteLevelVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  byteToChar().forEach((ch, b) => (vocab[ch] = b));
  BL_MERGES.forEach(([a, b], i) => (vocab[a + b] = 256 + i));
  vocab['<|endoftext|>'] = BL_EOT;
  return vocab;
}

export function byteLevelTokenizerJson(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: BL_EOT, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: byteLevelVocab(),
      merges: BL_MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** The same tokenizer in GPT-2's original two files. */
export function gpt2Files(): { 'vocab.json': Record<string, number>; 'merges.txt': string } {
  return {
    'vocab.json': byteLevelVocab(),
    'merges.txt': '#version: 0.2\n' + BL_MERGES.map(([a, b]) => `${a} ${b}`).join('\n') + '\n',
  };
}

/**
 * SentencePiece-style BPE (Llama-2 / Mistral layout): <unk> 0, <s> 1, </s> 2, the byte-fallback tokens
 * <0x00>..<0xFF> at 3..258 (byte b at 3 + b), then
 *   259 ▁  260 h  261 e  262 l  263 o  264 w  265 r  266 d
 *   267 ▁h  268 ▁he  269 ll  270 ▁hell  271 ▁hello  272 ▁w  273 or  274 ▁wor  275 ld  276 ▁world
 */
export const SP_PIECES = ['▁', 'h', 'e', 'l', 'o', 'w', 'r', 'd', '▁h', '▁he', 'll', '▁hell', '▁hello', '▁w', 'or', '▁wor', 'ld', '▁world'];
export const SP_MERGES: [string, string][] = [
  ['▁', 'h'],
  ['▁h', 'e'],
  ['l', 'l'],
  ['▁he', 'll'],
  ['▁hell', 'o'],
  ['▁', 'w'],
  ['o', 'r'],
  ['▁w', 'or'],
  ['l', 'd'],
  ['▁wor', 'ld'],
];

function spModel(): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  SP_PIECES.forEach((p, i) => (vocab[p] = 259 + i));
  return {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    ignore_merges: false,
    vocab,
    // The newer pair form of merges, as recent tokenizers versions write it.
    merges: SP_MERGES,
  };
}

const SP_ADDED = ['<unk>', '<s>', '</s>'].map((content, id) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
}));

const BOS_TEMPLATE = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [
    { SpecialToken: { id: '<s>', type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '<s>', type_id: 1 } },
    { Sequence: { id: 'B', type_id: 1 } },
  ],
  special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
};

/** SentencePiece's decoding as transformers writes it: ▁ → space, bytes → text, join, drop the first space. */
const SP_DECODER = {
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 },
  ],
};

/** Llama-2's tokenizer.json: ▁ prepended and spaces replaced by a normalizer, no pre-tokenizer. */
export function llama2StyleTokenizerJson(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SP_ADDED,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: BOS_TEMPLATE,
    decoder: SP_DECODER,
    model: spModel(),
  };
}

/** The newer layout (Mistral v0.3, transformers' legacy=false): a Metaspace pre-tokenizer, prepend on the first piece. */
export function metaspaceTokenizerJson(split: boolean): Record<string, unknown> {
  return {
    ...llama2StyleTokenizerJson(),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split },
  };
}

// ---- Fuzz helpers (shared by the fuzz test and the Python agreement test) ----


export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a node of the tree, for picking what to mutate. Long arrays contribute a sample, not all. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) {
    const step = Math.max(1, Math.floor(v.length / 8));
    for (let i = 0; i < v.length; i += step) paths(v[i]!, [...prefix, i], out);
  } else if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    const step = Math.max(1, Math.floor(keys.length / 8));
    for (let i = 0; i < keys.length; i += step) paths(v[keys[i]!]!, [...prefix, keys[i]!], out);
  }
  return out;
}

const JUNK: Json[] = [null, true, false, 0, -1, 1.5, 1e300, 2 ** 31, '', 'x', '1.0', [], [1, 2], {}, { type: 'BPE' }, ['a', 'b', 'c'], 'A'.repeat(300)];

export function mutate(root: Json, r: () => number): Json {
  const copy = structuredClone(root) as Json;
  const all = paths(copy);
  const p = all[1 + Math.floor(r() * (all.length - 1))]!;
  let parent: any = copy;
  for (const k of p.slice(0, -1)) parent = parent[k];
  const last = p[p.length - 1]!;
  const choice = r();
  if (choice < 0.2 && !Array.isArray(parent)) {
    delete parent[last];
  } else if (choice < 0.3 && Array.isArray(parent)) {
    parent.splice(Number(last), 1);
  } else if (choice < 0.4 && typeof parent[last] === 'string') {
    // A character changed inside a string (a token, a type name, a pattern).
    const s: string = parent[last];
    const i = Math.floor(r() * Math.max(1, s.length));
    parent[last] = s.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 95)) + s.slice(i + 1);
  } else if (choice < 0.5 && typeof parent[last] === 'number') {
    parent[last] = Math.floor(parent[last] + (r() - 0.5) * 600);
  } else {
    parent[last] = structuredClone(JUNK[Math.floor(r() * JUNK.length)]!);
  }
  return copy;
}

// ---- Llama-3 / Qwen2 layouts: byte-level BPE behind a regex Split ----

/** Llama-3's split: letters with one leading non-letter, digits in groups of up to three, punctuation runs. */
export const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's split: the same, but every digit on its own. */
export const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Ids: bytes 0–255 and the byte-level merges 256–263 as in byteLevelTokenizerJson, then 264 "34" (3 4), then
 * three special tokens at 265–267 — Llama-3: <|begin_of_text|>, <|end_of_text|>, <|eot_id|>;
 * Qwen2: <|endoftext|>, <|im_start|>, <|im_end|>.
 */
export function byteLevelFamilyJson(kind: 'llama3' | 'qwen2'): Record<string, unknown> {
  const vocab = byteLevelVocab();
  delete vocab['<|endoftext|>'];
  vocab['34'] = 264;
  const specials = kind === 'llama3' ? ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'] : ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  specials.forEach((s, i) => (vocab[s] = 265 + i));
  const added = specials.map((content, i) => ({
    id: 265 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: kind === 'llama3', use_regex: false };
  const bos = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [265], tokens: ['<|begin_of_text|>'] } },
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: kind === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: kind === 'llama3' ? LLAMA3_SPLIT : QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor:
      kind === 'llama3'
        ? { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, bos] }
        : byteLevel,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: kind === 'llama3',
      vocab,
      merges: [...BL_MERGES, ['3', '4']],
    },
  };
}
