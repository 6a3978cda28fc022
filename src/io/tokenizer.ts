/**
 * Tokenizers of Hugging Face checkpoint folders, through @huggingface/tokenizers (pure JS), never our own BPE.
 *
 *   const tok = loadTokenizer('/models/llama-3.2-1b');
 *   tok.encode('Hello')                       // ids; adds BOS etc. as the checkpoint's post-processor says
 *   tok.decode(ids, { skipSpecialTokens: true })
 *   tok.applyChatTemplate(messages, { addGenerationPrompt: true })
 *   tok.decodeStream()                        // streaming decode for generation (tokenizers/stream.ts)
 *   tok.tokenPieces()                         // the text each id adds, for constrained decoding
 *
 * The numeric tokenizer for from-scratch price models is re-exported from tokenizers/numeric.ts.
 *
 * What a folder may hold, and what we read:
 *  - `tokenizer.json` (preferred): any BPE the library implements — byte-level (GPT-2, Llama-3, Qwen2) and
 *    SentencePiece-style with ▁ and byte fallback (Llama-2, Mistral), whether written with the older
 *    Prepend/Replace normalizer or the newer Metaspace pre-tokenizer — plus Unigram and WordPiece.
 *  - else GPT-2's `vocab.json` + `merges.txt` (+ `added_tokens.json`), converted to the same tokenizer.json
 *    object transformers' converter would write.
 *  - `tokenizer_config.json`, `special_tokens_map.json`, `generation_config.json`, `config.json` for the special
 *    tokens (see tokenizers/special.ts), `clean_up_tokenization_spaces`, the Llama tokenizer class's
 *    add_bos_token/add_eos_token, and the chat template (or `chat_template.jinja`).
 *
 * Behaviour that differs from the library's own defaults, on purpose:
 *  - `clean_up_tokenization_spaces` is false unless tokenizer_config.json says true. The library defaults to
 *    true, which turns " ." into "." on decode and breaks exact round trips of number text; recent transformers
 *    also defaults to false.
 *  - For tokenizer_class LlamaTokenizer(Fast)/CodeLlamaTokenizer(Fast), `add_bos_token` (default true) and
 *    `add_eos_token` (default false) decide which of BOS/EOS `encode` adds, as transformers' LlamaTokenizerFast
 *    rebuilds the post-processor from them; the tokenizer.json's own post-processor is replaced.
 *  - `decode([])` is "" (the library throws), and ids outside the vocabulary are an error, not "undefined".
 *  - `encode` never returns a hole (`undefined`) in the id list: a piece with no id is an error naming it. (A BPE
 *    model with no unk token and no byte fallback leaves unrepresentable characters out, as the Rust library
 *    does; real byte-level vocabularies cover every byte, and the numeric tokenizer has <unk>.)
 *
 * Every problem with the files is an Error starting with the file's path, naming the key at fault.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, fail, own, parseJson, readTextIfExists } from './tokenizers/json_file.js';
import { validateTokenizerJson, type ValidatedTokenizerJson } from './tokenizers/validate.js';
import { tokenizerJsonFromGpt2Files } from './tokenizers/gpt2_files.js';
import {
  additionalSpecialTokens,
  declaredTokenStrings,
  readConfigFiles,
  resolveSpecialTokens,
  type ConfigFiles,
  type SpecialTokens,
} from './tokenizers/special.js';
import { ChatTemplates, findChatTemplates, type ChatMessage, type ChatTemplateOptions } from './tokenizers/chat.js';
import { DecodeStream } from './tokenizers/stream.js';

export type { ChatMessage, ChatTemplateOptions } from './tokenizers/chat.js';
export { DecodeStream } from './tokenizers/stream.js';
export {
  NUMERIC_ALPHABET,
  NUMERIC_SPECIAL_TOKENS,
  buildNumericTokenizerJson,
  trainNumericBpe,
  saveNumericTokenizer,
  type NumericTokenizerOptions,
  type NumericBpeTrainOptions,
} from './tokenizers/numeric.js';

export interface EncodeOptions {
  /** Add the special tokens the checkpoint's post-processor adds (e.g. Llama's BOS). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS/EOS/PAD, chat markers, …) from the text. Default false. */
  skipSpecialTokens?: boolean;
  /** Override tokenizer_config.json's clean_up_tokenization_spaces for this call. */
  cleanUpTokenizationSpaces?: boolean;
}

export type TokenizerSource = 'tokenizer.json' | 'vocab.json+merges.txt';

/** A loaded tokenizer; build with `loadTokenizer(dir)`. */
export class Tokenizer {
  /** Largest token id plus one (model vocabulary and added tokens). The model's vocab_size may be larger (padding). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly unkId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  /** Every id at which generation should stop: the tokenizer's EOS and generation_config's eos_token_id(s). */
  readonly eosIds: readonly number[];
  /** Ids of special tokens (flagged special in added_tokens, or declared as bos/eos/pad/unk/additional). */
  readonly specialIds: ReadonlySet<number>;
  /** Names of the chat templates the checkpoint ships ([] when none). */
  readonly chatTemplateNames: readonly string[];

  /** @internal use loadTokenizer */
  constructor(
    /** The folder it was loaded from. */
    readonly dir: string,
    readonly source: TokenizerSource,
    private readonly hf: HfTokenizer,
    validated: ValidatedTokenizerJson,
    special: SpecialTokens,
    private readonly cleanUpSpaces: boolean,
    private readonly chat: ChatTemplates | null,
  ) {
    this.vocabSize = validated.vocabSize;
    this.bosId = special.bos.id;
    this.eosId = special.eos.id;
    this.padId = special.pad.id;
    this.unkId = special.unk.id;
    this.bosToken = special.bos.token;
    this.eosToken = special.eos.token;
    this.padToken = special.pad.token;
    this.unkToken = special.unk.token;
    this.eosIds = Object.freeze([...special.eosIds]);
    const ids = new Set<number>();
    for (const t of validated.addedTokens) if (t.special) ids.add(t.id);
    for (const r of [special.bos, special.eos, special.pad, special.unk]) if (r.id !== null) ids.add(r.id);
    for (const t of special.additional) {
      const id = this.tokenToId(t);
      if (id !== null) ids.add(id);
    }
    this.specialIds = ids;
    this.chatTemplateNames = Object.freeze(chat?.names ?? []);
  }

  /** Text → token ids. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new Error(`encode: expected a string, got ${describe(text)}`);
    const enc = this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    const ids = enc.ids;
    for (let i = 0; i < ids.length; i++) {
      if (typeof ids[i] !== 'number') {
        throw new Error(
          `encode: ${this.dir}: the piece ${JSON.stringify(enc.tokens[i])} is not in the vocabulary ` +
            '(and the tokenizer has no unk token or byte fallback)',
        );
      }
    }
    return ids;
  }

  /** Token ids → text. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new Error(`decode: expected an array of token ids, got ${describe(ids)}`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new Error(`decode: ${describe(id)} is not a token id of this tokenizer (vocabulary size ${this.vocabSize})`);
      }
    }
    const skip = opts.skipSpecialTokens ?? false;
    const kept = skip ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    // The library refuses an empty list; the empty sequence decodes to the empty string.
    if (kept.length === 0) return '';
    return this.hf.decode([...kept], {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? this.cleanUpSpaces,
    });
  }

  /**
   * A streaming decoder for generation: `push(id)` returns the text that id completes ("" while a UTF-8
   * character or a SentencePiece space is still pending), `flush()` whatever is left at the end.
   */
  decodeStream(opts: Omit<DecodeOptions, 'cleanUpTokenizationSpaces'> = {}): DecodeStream {
    // No space clean-up while streaming: it rewrites text already printed.
    return new DecodeStream((ids) => this.decode(ids, { ...opts, cleanUpTokenizationSpaces: false }));
  }

  private pieces: readonly string[] | null = null;

  /**
   * The text each id adds when it follows other text, indexed by id — what constrained decoding needs to know
   * which tokens may come next. Not `decode([id])`: SentencePiece decoders drop the leading space of the first
   * token, so "▁world" alone decodes to "world" although it adds " world". A token holding part of a UTF-8
   * character gives "\uFFFD"; ids with no token give "". Computed on first use (one short decode per id), then cached.
   */
  tokenPieces(): readonly string[] {
    if (this.pieces !== null) return this.pieces;
    // Context: the first ordinary token that decodes to plain text on its own.
    let ctx = -1;
    let ctxText = '';
    for (let id = 0; id < this.vocabSize && ctx < 0; id++) {
      if (this.specialIds.has(id) || this.hf.id_to_token(id) === undefined) continue;
      const t = this.decode([id]);
      if (t.length > 0 && !t.includes('\uFFFD')) [ctx, ctxText] = [id, t];
    }
    const out: string[] = new Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      if (this.hf.id_to_token(id) === undefined) {
        out[id] = '';
        continue;
      }
      const alone = this.decode([id]);
      if (ctx < 0) {
        out[id] = alone;
        continue;
      }
      const joined = this.decode([ctx, id]);
      out[id] = joined.startsWith(ctxText) ? joined.slice(ctxText.length) : alone;
    }
    this.pieces = Object.freeze(out);
    return this.pieces;
  }

  /** The id of a token string (model vocabulary or added token), or null. */
  tokenToId(token: string): number | null {
    return this.hf.token_to_id(token) ?? null;
  }

  /** The token string of an id, or null when the id is not in the vocabulary. */
  idToToken(id: number): string | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return null;
    return this.hf.id_to_token(id) ?? null;
  }

  /** Whether the checkpoint ships a chat template. */
  get hasChatTemplate(): boolean {
    return this.chat !== null;
  }

  /** Renders a conversation through the checkpoint's chat template. */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (this.chat === null) {
      throw new Error(
        `${this.dir}: this tokenizer has no chat template (no chat_template.jinja, and tokenizer_config.json has no "chat_template")`,
      );
    }
    return this.chat.render(messages, opts);
  }

  /**
   * The conversation's token ids. The template already writes BOS and the like as text, so, as transformers'
   * apply_chat_template(tokenize=True) does, no special tokens are added on top (no doubled BOS).
   */
  encodeChat(messages: ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }
}

/** GPT2Tokenizer's defaults for a folder that declares nothing. */
const GPT2_DEFAULTS = { bos: '<|endoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>' } as const;

const LLAMA_CLASSES = /^(Llama|CodeLlama)Tokenizer(Fast)?$/;

function boolKey(file: string, obj: Record<string, unknown> | undefined, key: string): boolean | undefined {
  const v = obj === undefined ? undefined : own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(file, key, `expected true or false, got ${describe(v)}`);
  return v;
}

/**
 * A TemplateProcessing post-processor adding BOS and/or EOS around each sequence, as transformers'
 * LlamaTokenizerFast.update_post_processor builds it.
 */
function bosEosTemplate(
  files: ConfigFiles,
  v: ValidatedTokenizerJson,
  addBos: boolean,
  addEos: boolean,
  defaults: Partial<Record<'bos' | 'eos', string>> = {},
): Record<string, unknown> {
  const declared = { ...declaredTokenStrings(files) };
  for (const role of ['bos', 'eos'] as const) {
    const dflt = defaults[role];
    if (declared[role] === undefined && dflt !== undefined) declared[role] = { token: dflt, file: files.tokenizerConfigFile };
  }
  const idOf = (t: string): number | undefined =>
    v.addedTokens.find((a) => a.content === t)?.id ?? v.modelVocab.get(t);
  const specials: Record<string, unknown> = {};
  const item = (role: 'bos' | 'eos', typeId: number): Record<string, unknown> => {
    const d = declared[role];
    if (d === undefined || d.token === null) {
      fail(files.tokenizerConfigFile, `add_${role}_token`, `is true but no ${role}_token is declared`);
    }
    const id = idOf(d.token);
    if (id === undefined) fail(d.file, `${role}_token`, `${JSON.stringify(d.token)} is not in the tokenizer's vocabulary`);
    specials[d.token] = { id: d.token, ids: [id], tokens: [d.token] };
    return { SpecialToken: { id: d.token, type_id: typeId } };
  };
  const seq = (id: 'A' | 'B', typeId: number): Record<string, unknown>[] => [
    ...(addBos ? [item('bos', typeId)] : []),
    { Sequence: { id, type_id: typeId } },
    ...(addEos ? [item('eos', typeId)] : []),
  ];
  return { type: 'TemplateProcessing', single: seq('A', 0), pair: [...seq('A', 0), ...seq('B', 1)], special_tokens: specials };
}

/**
 * Loads the tokenizer of a Hugging Face model folder (see the module comment for what it reads). `p` is the folder,
 * or its tokenizer.json / vocab.json, in which case the folder holding it is read.
 */
export function loadTokenizer(p: string): Tokenizer {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new Error(`${p}: tokenizer folder not found`);
  }
  let dir = p;
  if (st.isFile() && ['tokenizer.json', 'vocab.json'].includes(path.basename(p))) dir = path.dirname(p);
  else if (!st.isDirectory()) throw new Error(`${p}: expected a folder holding tokenizer.json (or vocab.json + merges.txt)`);

  const files = readConfigFiles(dir);
  const tc = files.tokenizerConfig;
  const tcFile = files.tokenizerConfigFile;

  let source: TokenizerSource;
  let raw: unknown;
  let label: string;
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const text = readTextIfExists(tokenizerFile);
  if (text !== undefined) {
    source = 'tokenizer.json';
    label = tokenizerFile;
    raw = parseJson(tokenizerFile, text);
  } else if (fs.existsSync(path.join(dir, 'vocab.json'))) {
    source = 'vocab.json+merges.txt';
    label = `${path.join(dir, 'vocab.json')} + merges.txt`;
    // GPT2Tokenizer's defaults: "<|endoftext|>" is unk, bos and eos unless the folder says otherwise.
    const declared = declaredTokenStrings(files);
    const specials = new Set<string>();
    for (const role of ['bos', 'eos', 'unk', 'pad'] as const) {
      const d = declared[role];
      if (d === undefined && role !== 'pad') specials.add('<|endoftext|>');
      else if (d !== undefined && d.token !== null) specials.add(d.token);
    }
    for (const t of additionalSpecialTokens(files)) specials.add(t);
    raw = tokenizerJsonFromGpt2Files({
      dir,
      specialTokens: [...specials],
      addPrefixSpace: boolKey(tcFile, tc, 'add_prefix_space') ?? false,
    });
  } else {
    const hint = fs.existsSync(path.join(dir, 'tokenizer.model'))
      ? ' (tokenizer.model alone, a SentencePiece protobuf, is not supported: save the tokenizer with transformers to get tokenizer.json)'
      : '';
    throw new Error(`${dir}: no tokenizer found: expected tokenizer.json, or vocab.json + merges.txt${hint}`);
  }

  const validated = validateTokenizerJson(raw, label);

  // transformers' Llama tokenizer classes decide BOS/EOS from tokenizer_config.json, whatever tokenizer.json says;
  // GPT2Tokenizer has add_bos_token too (default false).
  const cls = tc === undefined ? undefined : own(tc, 'tokenizer_class');
  const addBos = boolKey(tcFile, tc, 'add_bos_token');
  const addEos = boolKey(tcFile, tc, 'add_eos_token');
  if (typeof cls === 'string' && LLAMA_CLASSES.test(cls)) {
    validated.json.post_processor = bosEosTemplate(files, validated, addBos ?? true, addEos ?? false);
  } else if (source === 'vocab.json+merges.txt' && (addBos === true || addEos === true)) {
    validated.json.post_processor = bosEosTemplate(files, validated, addBos ?? false, addEos ?? false, GPT2_DEFAULTS);
  }

  const cleanUp = boolKey(tcFile, tc, 'clean_up_tokenization_spaces') ?? false;
  let hf: HfTokenizer;
  try {
    // Only what the library needs from the config: the rest of tokenizer_config.json (objects for special tokens,
    // templates, class names) is interpreted here, not by it.
    hf = new HfTokenizer(validated.json, { clean_up_tokenization_spaces: cleanUp });
  } catch (err) {
    throw new Error(`${label}: @huggingface/tokenizers cannot build this tokenizer: ${(err as Error).message}`);
  }
  // An added token marked `normalized` is matched, by the Rust library, in the normalized text, and the JS
  // library normalizes the token's own content to match it: the two agree on ids but not always on decoding when
  // the normalizer changes the content (Llama-2's Prepend turns "</s>" into "▁</s>"). Refuse that combination;
  // a no-op normalization (NFC of ASCII, as in Qwen2) is fine.
  if (hf.normalizer !== null) {
    validated.addedTokens.forEach((t, i) => {
      if (t.normalized && hf.normalizer!(t.content) !== t.content) {
        fail(label, `added_tokens[${i}].normalized`, `${JSON.stringify(t.content)} is normalized to ${JSON.stringify(hf.normalizer!(t.content))}; normalized added tokens that the normalizer changes are not reproduced by @huggingface/tokenizers`);
      }
    });
  }
  const tokenToId = (t: string): number | null => hf.token_to_id(t) ?? null;
  const idToToken = (id: number): string | null => hf.id_to_token(id) ?? null;
  const special = resolveSpecialTokens(files, validated.vocabSize, tokenToId, idToToken, source === 'vocab.json+merges.txt' ? GPT2_DEFAULTS : {});

  const chatSource = findChatTemplates(dir, tcFile, tc);
  const vars: Record<string, string> = {};
  for (const role of ['bos', 'eos', 'pad', 'unk'] as const) {
    const t = special[role].token;
    if (t !== null) vars[`${role}_token`] = t;
  }
  const chat = chatSource === null ? null : new ChatTemplates(chatSource, vars);
  return new Tokenizer(dir, source, hf, validated, special, cleanUp, chat);
}
