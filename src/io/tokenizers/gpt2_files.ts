/**
 * GPT-2's original tokenizer files — `vocab.json` (token → id) and `merges.txt` (one merge per line, best first) —
 * turned into the equivalent `tokenizer.json` object, so both layouts go through the same library code.
 *
 * The equivalent is what Hugging Face's converter writes for GPT-2 (transformers' GPT2Converter): a byte-level
 * BPE with the ByteLevel pre-tokenizer (GPT-2 regex, no prefix space unless the config asks for one), the
 * ByteLevel post-processor and decoder, and the special tokens declared for the checkpoint as added tokens so
 * that "<|endoftext|>" in text encodes as the single special id rather than as its characters.
 */
import path from 'node:path';
import { describe, fail, parseJson, readTextIfExists, isPlainObject } from './json_file.js';

export interface Gpt2FilesInput {
  dir: string;
  /** Special tokens the folder declares (from tokenizer_config.json / special_tokens_map.json), by content. */
  specialTokens: string[];
  /** tokenizer_config.json's add_prefix_space (GPT2Tokenizer's option); false when absent. */
  addPrefixSpace: boolean;
}

/** Returns the tokenizer.json object equivalent to `dir`'s vocab.json + merges.txt (+ added_tokens.json). */
export function tokenizerJsonFromGpt2Files(input: Gpt2FilesInput): Record<string, unknown> {
  const vocabFile = path.join(input.dir, 'vocab.json');
  const mergesFile = path.join(input.dir, 'merges.txt');
  const vocabText = readTextIfExists(vocabFile);
  if (vocabText === undefined) fail(vocabFile, null, 'not found');
  const vocab = parseJson(vocabFile, vocabText);
  if (!isPlainObject(vocab)) fail(vocabFile, null, `expected a JSON object mapping tokens to ids, got ${describe(vocab)}`);
  const mergesText = readTextIfExists(mergesFile);
  if (mergesText === undefined) fail(mergesFile, null, 'not found (vocab.json needs its merges.txt)');

  const merges: string[] = [];
  mergesText.split('\n').forEach((rawLine, i) => {
    // Tolerate Windows line ends; a "#version: 0.2" header and blank lines are not merges.
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      fail(mergesFile, null, `line ${i + 1}: expected two tokens separated by one space, got ${describe(line)}`);
    }
    merges.push(line);
  });

  // Extra tokens a slow tokenizer was given after training (rare for GPT-2, but part of the layout).
  const addedFile = path.join(input.dir, 'added_tokens.json');
  const addedText = readTextIfExists(addedFile);
  const extra: [string, number][] = [];
  if (addedText !== undefined) {
    const added = parseJson(addedFile, addedText);
    if (!isPlainObject(added)) fail(addedFile, null, `expected a JSON object mapping tokens to ids, got ${describe(added)}`);
    for (const [tok, id] of Object.entries(added)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        fail(addedFile, tok, `expected a non-negative integer id, got ${describe(id)}`);
      }
      extra.push([tok, id]);
    }
  }

  const addedTokens: Record<string, unknown>[] = [];
  const special = new Set(input.specialTokens);
  for (const tok of input.specialTokens) {
    const id = Object.prototype.hasOwnProperty.call(vocab, tok) ? vocab[tok] : extra.find(([t]) => t === tok)?.[1];
    if (id === undefined) continue; // checked by the caller, which knows which config file declared it
    addedTokens.push(addedToken(id, tok, true));
  }
  for (const [tok, id] of extra) if (!special.has(tok)) addedTokens.push(addedToken(id, tok, false));

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: input.addPrefixSpace, trim_offsets: true, use_regex: true },
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
      vocab,
      merges,
    },
  };
}

function addedToken(id: unknown, content: string, special: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special };
}
