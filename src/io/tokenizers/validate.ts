/**
 * Structural validation of a parsed `tokenizer.json` before it reaches @huggingface/tokenizers.
 *
 * Why: the library trusts its input. A missing `added_tokens` is a TypeError deep inside its constructor, a
 * merge naming a token that is not in the vocabulary silently yields `undefined` ids at encode time, a
 * `FixedLength` pre-tokenizer of length 0 loops forever, and a huge token id makes a sparse array that later code
 * would size an embedding by. Here each such problem becomes an Error naming the file and the key path
 * (`model.merges[12]`, `pre_tokenizer.pretokenizers[1].behavior`), and the rules that the Rust library enforces
 * when Python loads the file (version "1.0", merge parts and their concatenation in the vocabulary, template
 * special tokens declared, added tokens with all their flags) are enforced here too. Components whose JS behaviour
 * differs from the Rust library's are refused or rewritten to an equivalent (see adaptPreTokenizer), so that a
 * file we accept encodes as Python would encode it; fuzzed files were cross-checked against Python's tokenizers.
 *
 * The result is a normalized copy: absent optional components become null and absent `added_tokens` becomes [],
 * which is the shape the library's constructor expects.
 */
import { describe, fail, isPlainObject, own } from './json_file.js';

/** Real vocabularies are at most a few hundred thousand entries; ids beyond this are corruption, not data. */
export const MAX_TOKEN_ID = (1 << 24) - 1;

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface ValidatedTokenizerJson {
  /** The normalized object handed to the library. */
  json: Record<string, unknown>;
  modelType: 'BPE' | 'Unigram' | 'WordPiece';
  /** token → id of the model's own vocabulary (added tokens not included). */
  modelVocab: Map<string, number>;
  addedTokens: AddedTokenJson[];
  /** Largest id in the model vocabulary or the added tokens, plus one. */
  vocabSize: number;
}

/** Field kinds of the component specs below. */
type Kind =
  | 'string'
  | 'string?' // string or null
  | 'char' // a string of one character (a Rust `char`)
  | 'bool'
  | 'bool?' // boolean or null
  | 'uint' // non-negative integer
  | 'posint'
  | 'number?'
  | 'pattern' // {"String": s} or {"Regex": r}
  | 'behavior'
  | 'prepend_scheme'
  | { list: Category }
  | 'template'
  | 'special_tokens'
  | 'pair_string_uint'; // ["[SEP]", 102]

type Category = 'normalizer' | 'pre_tokenizer' | 'post_processor' | 'decoder';

interface FieldSpec {
  kind: Kind;
  required?: boolean;
}
type ComponentSpec = Record<string, FieldSpec>;

const opt = (kind: Kind): FieldSpec => ({ kind });
const req = (kind: Kind): FieldSpec => ({ kind, required: true });

/** The same fields as pre-tokenizer, post-processor and decoder; the Rust library requires the first two. */
const BYTE_LEVEL: ComponentSpec = { add_prefix_space: req('bool'), trim_offsets: req('bool'), use_regex: opt('bool') };

/**
 * The component types @huggingface/tokenizers implements, with the fields it reads. A type the library lacks
 * (e.g. the `UnicodeScripts` pre-tokenizer, the `WordLevel` model) is refused up front with a message that says so,
 * rather than the library's bare "Unknown ... type".
 */
const COMPONENTS: Record<Category, Record<string, ComponentSpec>> = {
  normalizer: {
    BertNormalizer: {
      clean_text: opt('bool?'),
      handle_chinese_chars: opt('bool?'),
      strip_accents: opt('bool?'),
      lowercase: opt('bool?'),
    },
    Precompiled: { precompiled_charsmap: opt('string?') },
    Sequence: { normalizers: req({ list: 'normalizer' }) },
    Replace: { pattern: req('pattern'), content: req('string') },
    NFC: {},
    NFD: {},
    NFKC: {},
    NFKD: {},
    Strip: { strip_left: opt('bool'), strip_right: opt('bool') },
    StripAccents: {},
    Lowercase: {},
    Prepend: { prepend: req('string') },
  },
  pre_tokenizer: {
    BertPreTokenizer: {},
    Sequence: { pretokenizers: req({ list: 'pre_tokenizer' }) },
    Whitespace: {},
    WhitespaceSplit: {},
    Metaspace: {
      replacement: req('string'),
      str_rep: opt('string'),
      prepend_scheme: opt('prepend_scheme'),
      add_prefix_space: opt('bool'),
      split: opt('bool'),
    },
    ByteLevel: BYTE_LEVEL,
    Split: { pattern: req('pattern'), behavior: req('behavior'), invert: req('bool') },
    Punctuation: { behavior: opt('behavior') },
    Digits: { individual_digits: opt('bool') },
    Replace: { pattern: req('pattern'), content: opt('string') },
    FixedLength: { length: req('posint') },
  },
  post_processor: {
    TemplateProcessing: { single: req('template'), pair: req('template'), special_tokens: req('special_tokens') },
    ByteLevel: BYTE_LEVEL,
    BertProcessing: { sep: req('pair_string_uint'), cls: req('pair_string_uint') },
    RobertaProcessing: {
      sep: req('pair_string_uint'),
      cls: req('pair_string_uint'),
      trim_offsets: opt('bool'),
      add_prefix_space: opt('bool'),
    },
    Sequence: { processors: req({ list: 'post_processor' }) },
  },
  decoder: {
    ByteLevel: BYTE_LEVEL,
    WordPiece: { prefix: opt('string'), cleanup: opt('bool') },
    Metaspace: {
      replacement: req('char'),
      prepend_scheme: opt('prepend_scheme'),
      add_prefix_space: opt('bool'),
      split: opt('bool'),
    },
    BPEDecoder: { suffix: opt('string') },
    CTC: { pad_token: opt('string'), word_delimiter_token: opt('string'), cleanup: opt('bool') },
    Sequence: { decoders: req({ list: 'decoder' }) },
    Replace: { pattern: req('pattern'), content: req('string') },
    Fuse: {},
    Strip: { content: req('char'), start: req('uint'), stop: req('uint') },
    ByteFallback: {},
  },
};

const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];
const PREPEND_SCHEMES = ['always', 'never', 'first'];

class Checker {
  /** SpecialToken ids referenced by TemplateProcessing items, checked against the vocabulary at the end. */
  readonly templateSpecials: { key: string; id: string; ids: number[] | null }[] = [];

  constructor(readonly file: string) {}

  fail(key: string, msg: string): never {
    return fail(this.file, key, msg);
  }

  isUint(v: unknown): v is number {
    return typeof v === 'number' && Number.isInteger(v) && v >= 0;
  }

  tokenId(key: string, v: unknown): number {
    if (!this.isUint(v) || v > MAX_TOKEN_ID) {
      this.fail(key, `expected a token id (an integer from 0 to ${MAX_TOKEN_ID}), got ${describe(v)}`);
    }
    return v;
  }

  component(key: string, v: unknown, cat: Category): void {
    if (!isPlainObject(v)) this.fail(key, `expected an object or null, got ${describe(v)}`);
    const type = own(v, 'type');
    if (typeof type !== 'string') this.fail(`${key}.type`, `expected a string, got ${describe(type)}`);
    const spec = Object.prototype.hasOwnProperty.call(COMPONENTS[cat], type) ? COMPONENTS[cat][type] : undefined;
    if (spec === undefined) {
      this.fail(
        `${key}.type`,
        `${cat} type ${JSON.stringify(type)} is not supported by @huggingface/tokenizers ` +
          `(supported: ${Object.keys(COMPONENTS[cat]).join(', ')})`,
      );
    }
    for (const [field, fs] of Object.entries(spec)) {
      const fv = own(v, field);
      if (fv === undefined) {
        if (fs.required) this.fail(`${key}.${field}`, 'is required');
        continue;
      }
      this.field(`${key}.${field}`, fv, fs.kind);
    }
  }

  field(key: string, v: unknown, kind: Kind): void {
    if (typeof kind === 'object') {
      if (!Array.isArray(v)) this.fail(key, `expected an array, got ${describe(v)}`);
      v.forEach((item, i) => this.component(`${key}[${i}]`, item, kind.list));
      return;
    }
    switch (kind) {
      case 'string':
        if (typeof v !== 'string') this.fail(key, `expected a string, got ${describe(v)}`);
        return;
      case 'char':
        if (typeof v !== 'string' || [...v].length !== 1) this.fail(key, `expected a single character, got ${describe(v)}`);
        return;
      case 'string?':
        if (v !== null && typeof v !== 'string') this.fail(key, `expected a string or null, got ${describe(v)}`);
        return;
      case 'bool':
        if (typeof v !== 'boolean') this.fail(key, `expected true or false, got ${describe(v)}`);
        return;
      case 'bool?':
        if (v !== null && typeof v !== 'boolean') this.fail(key, `expected true, false or null, got ${describe(v)}`);
        return;
      case 'uint':
        // u32/usize in Rust; 1e300 is an integer to JavaScript but no count anyone meant.
        if (!this.isUint(v) || v > 0xffffffff) this.fail(key, `expected a non-negative integer, got ${describe(v)}`);
        return;
      case 'posint':
        // Bounded too: a FixedLength of 1e300 is not a length anyone meant.
        if (!this.isUint(v) || v === 0 || v > 1 << 20) this.fail(key, `expected a positive integer, got ${describe(v)}`);
        return;
      case 'number?':
        if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
          this.fail(key, `expected a number or null, got ${describe(v)}`);
        }
        return;
      case 'pattern': {
        if (!isPlainObject(v)) this.fail(key, `expected {"String": ...} or {"Regex": ...}, got ${describe(v)}`);
        const keys = Object.keys(v);
        if (keys.length !== 1 || (keys[0] !== 'String' && keys[0] !== 'Regex') || typeof v[keys[0]!] !== 'string') {
          this.fail(key, 'expected exactly one of {"String": "<text>"} or {"Regex": "<pattern>"}');
        }
        return;
      }
      case 'behavior':
        if (typeof v !== 'string' || !BEHAVIORS.includes(v)) {
          this.fail(key, `expected one of ${BEHAVIORS.join(', ')}, got ${describe(v)}`);
        }
        return;
      case 'prepend_scheme':
        if (typeof v !== 'string' || !PREPEND_SCHEMES.includes(v)) {
          this.fail(key, `expected one of ${PREPEND_SCHEMES.join(', ')}, got ${describe(v)}`);
        }
        return;
      case 'pair_string_uint':
        if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || !this.isUint(v[1])) {
          this.fail(key, `expected [token, id], got ${describe(v)}`);
        }
        return;
      case 'template':
        this.template(key, v);
        return;
      case 'special_tokens':
        this.specialTokens(key, v);
        return;
    }
  }

  /** TemplateProcessing's `single`/`pair`: items {"SpecialToken": {id, type_id}} or {"Sequence": {id: "A"|"B", type_id}}. */
  template(key: string, v: unknown): void {
    if (!Array.isArray(v)) this.fail(key, `expected an array, got ${describe(v)}`);
    v.forEach((item, i) => {
      const k = `${key}[${i}]`;
      if (!isPlainObject(item) || Object.keys(item).length !== 1) {
        this.fail(k, 'expected {"SpecialToken": {...}} or {"Sequence": {...}}');
      }
      const [kind, body] = Object.entries(item)[0]!;
      if (!isPlainObject(body)) this.fail(`${k}.${kind}`, `expected an object, got ${describe(body)}`);
      // Required and a u32 in the Rust library, which refuses the whole file otherwise.
      const typeId = own(body, 'type_id');
      if (!this.isUint(typeId) || typeId > 0xffffffff) {
        this.fail(`${k}.${kind}.type_id`, `expected a non-negative integer, got ${describe(typeId)}`);
      }
      const id = own(body, 'id');
      if (kind === 'Sequence') {
        if (id !== 'A' && id !== 'B') this.fail(`${k}.Sequence.id`, `expected "A" or "B", got ${describe(id)}`);
      } else if (kind === 'SpecialToken') {
        if (typeof id !== 'string') this.fail(`${k}.SpecialToken.id`, `expected a string, got ${describe(id)}`);
        this.templateSpecials.push({ key: `${k}.SpecialToken.id`, id, ids: null });
      } else {
        this.fail(k, `expected "SpecialToken" or "Sequence", got ${JSON.stringify(kind)}`);
      }
    });
  }

  specialTokensSeen = new Map<string, number[]>();

  specialTokens(key: string, v: unknown): void {
    if (!isPlainObject(v)) this.fail(key, `expected an object, got ${describe(v)}`);
    for (const [name, st] of Object.entries(v)) {
      const k = `${key}.${name}`;
      if (!isPlainObject(st)) this.fail(k, `expected an object, got ${describe(st)}`);
      const ids = own(st, 'ids');
      const tokens = own(st, 'tokens');
      if (typeof own(st, 'id') !== 'string') this.fail(`${k}.id`, `expected a string, got ${describe(own(st, 'id'))}`);
      if (!Array.isArray(ids)) this.fail(`${k}.ids`, `expected an array of token ids, got ${describe(ids)}`);
      ids.forEach((x, i) => this.tokenId(`${k}.ids[${i}]`, x));
      if (!Array.isArray(tokens) || tokens.length !== ids.length || !tokens.every((t) => typeof t === 'string')) {
        this.fail(`${k}.tokens`, `expected an array of ${ids.length} strings, got ${describe(tokens)}`);
      }
      this.specialTokensSeen.set(name, ids as number[]);
    }
  }
}

function checkAddedTokens(c: Checker, v: unknown): AddedTokenJson[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) c.fail('added_tokens', `expected an array, got ${describe(v)}`);
  const seen = new Map<number, string>();
  return v.map((t, i) => {
    const k = `added_tokens[${i}]`;
    if (!isPlainObject(t)) c.fail(k, `expected an object, got ${describe(t)}`);
    const id = c.tokenId(`${k}.id`, own(t, 'id'));
    const content = own(t, 'content');
    if (typeof content !== 'string' || content.length === 0) {
      c.fail(`${k}.content`, `expected a non-empty string, got ${describe(content)}`);
    }
    const prev = seen.get(id);
    if (prev !== undefined && prev !== content) {
      c.fail(`${k}.id`, `id ${id} is given to both ${JSON.stringify(prev)} and ${JSON.stringify(content)}`);
    }
    seen.set(id, content);
    // All five flags are required, as the Rust library requires them: a file missing one would load here and
    // not in Python.
    const flag = (name: string): boolean => {
      const f = own(t, name);
      if (typeof f !== 'boolean') c.fail(`${k}.${name}`, `expected true or false, got ${describe(f)}`);
      return f;
    };
    // The JS library ignores single_word (it would match the token inside a word, where Rust does not).
    if (flag('single_word')) c.fail(`${k}.single_word`, 'single_word true is not reproduced by @huggingface/tokenizers');
    return {
      id,
      content,
      single_word: false,
      lstrip: flag('lstrip'),
      rstrip: flag('rstrip'),
      normalized: flag('normalized'),
      special: flag('special'),
    };
  });
}

/** token → id map of an object-shaped vocabulary, rejecting bad ids and two tokens sharing one id. */
function objectVocab(c: Checker, key: string, v: unknown): Map<string, number> {
  if (!isPlainObject(v)) c.fail(key, `expected an object mapping tokens to ids, got ${describe(v)}`);
  const vocab = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(v)) {
    // The key path is built only on failure: this loop runs over every token of a 100k+ vocabulary.
    const n = c.isUint(id) && id <= MAX_TOKEN_ID ? id : c.tokenId(`${key}.${tok}`, id);
    const other = byId.get(n);
    if (other !== undefined) {
      c.fail(key, `id ${n} is given to both ${JSON.stringify(other)} and ${JSON.stringify(tok)}`);
    }
    byId.set(n, tok);
    vocab.set(tok, n);
  }
  return vocab;
}

function checkBpe(c: Checker, m: Record<string, unknown>): Map<string, number> {
  const vocab = objectVocab(c, 'model.vocab', own(m, 'vocab'));
  for (const f of ['unk_token', 'continuing_subword_prefix', 'end_of_word_suffix']) {
    const fv = own(m, f);
    if (fv !== undefined) c.field(`model.${f}`, fv, 'string?');
    // The JS library reads neither affix as the Rust one does (it ignores the prefix when merging and strips the
    // suffix at decode whatever the decoder): refuse rather than tokenize differently. GPT-2, Llama, Qwen2 and
    // Mistral files have them null or "".
    if (f !== 'unk_token' && typeof fv === 'string' && fv !== '') {
      c.fail(`model.${f}`, `a non-empty ${f} (${describe(fv)}) is not reproduced by @huggingface/tokenizers`);
    }
  }
  for (const f of ['fuse_unk', 'byte_fallback', 'ignore_merges']) {
    const fv = own(m, f);
    if (fv !== undefined && fv !== null) c.field(`model.${f}`, fv, 'bool');
  }
  const dropout = own(m, 'dropout');
  if (dropout !== undefined) c.field('model.dropout', dropout, 'number?');
  if (typeof dropout === 'number' && dropout !== 0 && dropout !== 1) {
    // Dropout only matters in training a tokenizer; encoding with it is random, which no loader should want.
    // The library ignores it; say so rather than encode differently from Python without a word.
    c.fail('model.dropout', `BPE dropout ${dropout} is not supported (encoding would not be deterministic)`);
  }
  const unk = own(m, 'unk_token');
  if (typeof unk === 'string' && !vocab.has(unk)) {
    c.fail('model.unk_token', `${JSON.stringify(unk)} is not in model.vocab`);
  }
  const merges = own(m, 'merges');
  if (!Array.isArray(merges)) c.fail('model.merges', `expected an array of merges, got ${describe(merges)}`);
  merges.forEach((mg, i) => {
    const k = (): string => `model.merges[${i}]`;
    let a: string;
    let b: string;
    if (typeof mg === 'string') {
      // The older format: "a b". Tokens cannot contain a space in it, so exactly two parts.
      const parts = mg.split(' ');
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
        c.fail(k(), `expected two tokens separated by one space, got ${describe(mg)}`);
      }
      [a, b] = parts as [string, string];
    } else if (Array.isArray(mg) && mg.length === 2 && typeof mg[0] === 'string' && typeof mg[1] === 'string') {
      [a, b] = mg as [string, string];
    } else {
      c.fail(k(), `expected "a b" or ["a", "b"], got ${describe(mg)}`);
    }
    if (!vocab.has(a)) c.fail(k(), `${JSON.stringify(a)} is not in model.vocab`);
    if (!vocab.has(b)) c.fail(k(), `${JSON.stringify(b)} is not in model.vocab`);
    // As the Rust builder requires (there is no continuing-subword prefix to strip: refused above).
    const merged = a + b;
    if (!vocab.has(merged)) c.fail(k(), `the merged token ${JSON.stringify(merged)} is not in model.vocab`);
  });
  return vocab;
}

function checkUnigram(c: Checker, m: Record<string, unknown>): Map<string, number> {
  const v = own(m, 'vocab');
  if (!Array.isArray(v)) c.fail('model.vocab', `expected an array of [token, score] pairs, got ${describe(v)}`);
  const vocab = new Map<string, number>();
  v.forEach((e, i) => {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'number') {
      c.fail(`model.vocab[${i}]`, `expected [token, score], got ${describe(e)}`);
    }
    if (i > MAX_TOKEN_ID) c.fail('model.vocab', `more than ${MAX_TOKEN_ID + 1} entries`);
    if (!vocab.has(e[0])) vocab.set(e[0], i);
  });
  const unkId = own(m, 'unk_id');
  if (unkId !== undefined && unkId !== null && (!c.isUint(unkId) || unkId >= v.length)) {
    c.fail('model.unk_id', `expected null or an index into model.vocab (< ${v.length}), got ${describe(unkId)}`);
  }
  return vocab;
}

function checkWordPiece(c: Checker, m: Record<string, unknown>): Map<string, number> {
  const vocab = objectVocab(c, 'model.vocab', own(m, 'vocab'));
  const unk = own(m, 'unk_token');
  if (unk !== undefined) c.field('model.unk_token', unk, 'string');
  if (typeof unk === 'string' && !vocab.has(unk)) c.fail('model.unk_token', `${JSON.stringify(unk)} is not in model.vocab`);
  const p = own(m, 'continuing_subword_prefix');
  if (p !== undefined) c.field('model.continuing_subword_prefix', p, 'string');
  const mx = own(m, 'max_input_chars_per_word');
  if (mx !== undefined) c.field('model.max_input_chars_per_word', mx, 'posint');
  return vocab;
}

/** Validates and normalizes a parsed tokenizer.json; `file` is used in every error message. */
export function validateTokenizerJson(raw: unknown, file: string): ValidatedTokenizerJson {
  const c: Checker = new Checker(file);
  if (!isPlainObject(raw)) fail(file, null, `expected a JSON object at the top level, got ${describe(raw)}`);
  const version = own(raw, 'version');
  // Python's tokenizers refuses any other version, so a file we accept must say "1.0" (or say nothing).
  if (version !== undefined && version !== '1.0') c.fail('version', `expected "1.0", got ${describe(version)}`);

  const model = own(raw, 'model');
  if (model === undefined) fail(file, null, 'required key "model" is missing');
  if (!isPlainObject(model)) c.fail('model', `expected an object, got ${describe(model)}`);
  let type = own(model, 'type');
  // Files written by early versions of the Rust library carry no model type; like its untagged deserializer,
  // recognise BPE by its merges.
  if (type === undefined && own(model, 'merges') !== undefined) type = 'BPE';
  let modelVocab: Map<string, number>;
  if (type === 'BPE') modelVocab = checkBpe(c, model);
  else if (type === 'Unigram') modelVocab = checkUnigram(c, model);
  else if (type === 'WordPiece') modelVocab = checkWordPiece(c, model);
  else {
    c.fail(
      'model.type',
      `model type ${describe(type)} is not supported by @huggingface/tokenizers (supported: BPE, Unigram, WordPiece)`,
    );
  }

  // Truncation and padding are not applied by this loader (callers batch and cut ids themselves); only their
  // shape is checked, so a corrupt value is not silently passed over.
  for (const f of ['truncation', 'padding']) {
    const fv = own(raw, f);
    if (fv !== undefined && fv !== null && !isPlainObject(fv)) c.fail(f, `expected an object or null, got ${describe(fv)}`);
  }
  const addedTokens = checkAddedTokens(c, own(raw, 'added_tokens'));
  // An added token reusing the id of a *different* model token would make that id decode to the added token
  // while the model token still encodes to it. (Llama's files repeat <unk>, <s>, </s> with the same ids: fine.)
  const modelById = new Map<number, string>();
  for (const [t, id] of modelVocab) modelById.set(id, t);
  addedTokens.forEach((t, i) => {
    const clash = modelById.get(t.id);
    if (clash !== undefined && clash !== t.content) {
      c.fail(`added_tokens[${i}].id`, `id ${t.id} is already ${JSON.stringify(clash)} in model.vocab`);
    }
    const inModel = modelVocab.get(t.content);
    if (inModel !== undefined && inModel !== t.id) {
      c.fail(`added_tokens[${i}].id`, `${JSON.stringify(t.content)} is id ${inModel} in model.vocab, not ${t.id}`);
    }
  });

  const json: Record<string, unknown> = { ...raw, model: { ...model, type }, added_tokens: addedTokens };
  for (const cat of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) {
    const v = own(raw, cat);
    if (v === undefined || v === null) json[cat] = null;
    else c.component(cat, v, cat);
  }

  if (json.pre_tokenizer !== null) json.pre_tokenizer = adaptPreTokenizer(c, 'pre_tokenizer', json.pre_tokenizer);

  // ByteFallback reads "<0xHH>" tokens as bytes. The JS decoder parses the two characters leniently
  // (parseInt("3 ", 16) is 3) where Rust requires hex digits, so a vocabulary token of that shape that is not a
  // proper byte token would decode differently: refuse it.
  if (hasDecoder(json.decoder, 'ByteFallback')) {
    // The same leniency bites when a Replace step before ByteFallback rewrites characters of "<0xHH>" tokens
    // (a Replace of "1" turns "<0x31>" into "<0x3 >"). SentencePiece files replace only "▁" there.
    const steps = isPlainObject(json.decoder) && json.decoder.type === 'Sequence' ? (json.decoder.decoders as unknown[]) : [];
    const fb = steps.findIndex((x) => isPlainObject(x) && x.type === 'ByteFallback');
    steps.slice(0, Math.max(0, fb)).forEach((x, i) => {
      if (!isPlainObject(x) || x.type !== 'Replace') return;
      const pat = x.pattern as Record<string, unknown>;
      if (typeof pat.String !== 'string' || /[<>xX0-9A-Fa-f]/.test(pat.String)) {
        c.fail(`decoder.decoders[${i}].pattern`, 'a Replace before ByteFallback may only replace text that cannot occur in a <0xHH> token');
      }
    });
    for (const t of [...modelVocab.keys(), ...addedTokens.map((a) => a.content)]) {
      if (t.length === 6 && t.startsWith('<0x') && t.endsWith('>') && !/^<0x[0-9A-Fa-f]{2}>$/.test(t)) {
        c.fail('model.vocab', `token ${JSON.stringify(t)} looks like a byte-fallback token but is not <0xHH>`);
      }
    }
  }

  // Template special tokens: the Rust library inserts special_tokens[id].ids, the JS library looks the id string
  // up in the vocabulary. Require both to exist and agree, so the two encode alike.
  const idOf = (t: string): number | undefined => {
    for (const a of addedTokens) if (a.content === t) return a.id;
    return modelVocab.get(t);
  };
  for (const ts of c.templateSpecials) {
    const declared = c.specialTokensSeen.get(ts.id);
    if (declared === undefined) {
      c.fail(ts.key, `${JSON.stringify(ts.id)} is not declared in the post-processor's special_tokens`);
    }
    const vid = idOf(ts.id);
    if (vid === undefined) c.fail(ts.key, `${JSON.stringify(ts.id)} is not in the vocabulary`);
    if (declared.length !== 1 || declared[0] !== vid) {
      c.fail(ts.key, `special_tokens gives ${JSON.stringify(ts.id)} ids [${declared.join(', ')}] but the vocabulary has ${vid}`);
    }
  }

  let maxId = -1;
  for (const id of modelVocab.values()) if (id > maxId) maxId = id;
  for (const t of addedTokens) if (t.id > maxId) maxId = t.id;
  return { json, modelType: type as 'BPE' | 'Unigram' | 'WordPiece', modelVocab, addedTokens, vocabSize: maxId + 1 };
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|-]/g, '\\$&');
}

/**
 * Where @huggingface/tokenizers would pre-tokenize differently from the Rust library, either rewrite the
 * (already validated) component into an equivalent the JS library does implement, or refuse it. Never encode
 * differently from Python without saying so.
 *  - Metaspace with `split` true (the Rust default, and the only behaviour of files written before the field
 *    existed) splits before each ▁, keeping it on the next piece; the JS library ignores `split`. Rewritten as
 *    Metaspace(split false) followed by an inverted Split whose matches are exactly those pieces.
 *  - Split's MergedWithPrevious/MergedWithNext/Contiguous behaviours are treated as Isolated by the JS library,
 *    and its Punctuation always groups runs (Rust's Contiguous; Rust's default is Isolated): refused.
 */
function adaptPreTokenizer(c: Checker, key: string, v: unknown): unknown {
  const o = v as Record<string, unknown>;
  switch (o.type) {
    case 'Sequence':
      return { ...o, pretokenizers: (o.pretokenizers as unknown[]).map((p, i) => adaptPreTokenizer(c, `${key}.pretokenizers[${i}]`, p)) };
    case 'Metaspace': {
      // Rust reads the replacement as one char; that also makes the character class below exact.
      if (typeof o.replacement === 'string' && [...o.replacement].length !== 1) {
        c.fail(`${key}.replacement`, `expected a single character, got ${describe(o.replacement)}`);
      }
      if (o.split === false) return o;
      const r = escapeRegex(typeof o.replacement === 'string' ? o.replacement : '\u2581');
      return {
        type: 'Sequence',
        pretokenizers: [
          { ...o, split: false },
          { type: 'Split', pattern: { Regex: `${r}[^${r}]*|[^${r}]+` }, behavior: 'Isolated', invert: true },
        ],
      };
    }
    case 'Split':
      if (o.behavior !== 'Isolated' && o.behavior !== 'Removed') {
        c.fail(`${key}.behavior`, `${String(o.behavior)} is not reproduced by @huggingface/tokenizers (only Isolated and Removed)`);
      }
      return o;
    case 'Punctuation':
      if (o.behavior !== 'Contiguous') {
        c.fail(`${key}.behavior`, `${String(o.behavior ?? 'Isolated (the default)')} is not reproduced by @huggingface/tokenizers (only Contiguous)`);
      }
      return o;
    default:
      return o;
  }
}

function hasDecoder(d: unknown, type: string): boolean {
  if (!isPlainObject(d)) return false;
  if (d.type === type) return true;
  return d.type === 'Sequence' && Array.isArray(d.decoders) && d.decoders.some((x) => hasDecoder(x, type));
}
