/**
 * BOS / EOS / PAD / UNK as the checkpoint declares them.
 *
 * Where a folder can say it, in the order we trust it:
 *  1. the token *strings* in special_tokens_map.json, then tokenizer_config.json (transformers lets the map
 *     override the config). A value is a string, or an object {"content": "...", ...} (the AddedToken form), or
 *     null ("this tokenizer has none", e.g. Qwen2's bos_token).
 *  2. the *ids* in generation_config.json, then config.json (`bos_token_id`, `eos_token_id` — one id or a list,
 *     as in Llama-3 instruct — and `pad_token_id`), used for a role the tokenizer files leave undeclared.
 *
 * A declared token string that is not in the vocabulary is an error naming the file and key: transformers would
 * quietly add it as a new token, growing the vocabulary past the model's embedding.
 *
 * `eosIds` is every id that should end generation: the tokenizer's EOS plus generation_config's list (or
 * config.json's, when there is no generation_config.json, which is what transformers falls back to).
 */
import path from 'node:path';
import { describe, fail, isPlainObject, own, readJsonObjectIfExists } from './json_file.js';

export type SpecialRole = 'bos' | 'eos' | 'pad' | 'unk';
export const SPECIAL_ROLES: readonly SpecialRole[] = ['bos', 'eos', 'pad', 'unk'];

export interface SpecialTokens {
  bos: { token: string | null; id: number | null };
  eos: { token: string | null; id: number | null };
  pad: { token: string | null; id: number | null };
  unk: { token: string | null; id: number | null };
  eosIds: number[];
  /** additional_special_tokens (strings), as declared. */
  additional: string[];
}

export interface ConfigFiles {
  tokenizerConfigFile: string;
  tokenizerConfig: Record<string, unknown> | undefined;
  specialTokensMapFile: string;
  specialTokensMap: Record<string, unknown> | undefined;
  generationConfigFile: string;
  generationConfig: Record<string, unknown> | undefined;
  modelConfigFile: string;
  modelConfig: Record<string, unknown> | undefined;
}

/** Reads the optional JSON files that declare special tokens and chat templates. */
export function readConfigFiles(dir: string): ConfigFiles {
  const tokenizerConfigFile = path.join(dir, 'tokenizer_config.json');
  const specialTokensMapFile = path.join(dir, 'special_tokens_map.json');
  const generationConfigFile = path.join(dir, 'generation_config.json');
  const modelConfigFile = path.join(dir, 'config.json');
  return {
    tokenizerConfigFile,
    tokenizerConfig: readJsonObjectIfExists(tokenizerConfigFile),
    specialTokensMapFile,
    specialTokensMap: readJsonObjectIfExists(specialTokensMapFile),
    generationConfigFile,
    generationConfig: readJsonObjectIfExists(generationConfigFile),
    modelConfigFile,
    modelConfig: readJsonObjectIfExists(modelConfigFile),
  };
}

/**
 * A special-token value as written: undefined (not declared), null (declared absent) or the token's text.
 */
export function tokenString(file: string, key: string, v: unknown): string | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v === 'string') return v;
  if (isPlainObject(v) && typeof own(v, 'content') === 'string') return own(v, 'content') as string;
  return fail(file, key, `expected a token string, an object with "content", or null, got ${describe(v)}`);
}

/** One declared token string per role, special_tokens_map.json winning over tokenizer_config.json. */
export function declaredTokenStrings(files: ConfigFiles): Record<SpecialRole, { token: string | null; file: string } | undefined> {
  const out = {} as Record<SpecialRole, { token: string | null; file: string } | undefined>;
  for (const role of SPECIAL_ROLES) {
    const key = `${role}_token`;
    let found: { token: string | null; file: string } | undefined;
    for (const [file, obj] of [
      [files.specialTokensMapFile, files.specialTokensMap],
      [files.tokenizerConfigFile, files.tokenizerConfig],
    ] as const) {
      if (obj === undefined) continue;
      const s = tokenString(file, key, own(obj, key));
      if (s !== undefined) {
        found = { token: s, file };
        break;
      }
    }
    out[role] = found;
  }
  return out;
}

/** additional_special_tokens from either file (strings or AddedToken objects), de-duplicated. */
export function additionalSpecialTokens(files: ConfigFiles): string[] {
  const out: string[] = [];
  for (const [file, obj] of [
    [files.specialTokensMapFile, files.specialTokensMap],
    [files.tokenizerConfigFile, files.tokenizerConfig],
  ] as const) {
    const v = obj === undefined ? undefined : own(obj, 'additional_special_tokens');
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) fail(file, 'additional_special_tokens', `expected an array, got ${describe(v)}`);
    v.forEach((t, i) => {
      const s = tokenString(file, `additional_special_tokens[${i}]`, t);
      if (typeof s === 'string' && !out.includes(s)) out.push(s);
    });
  }
  return out;
}

/** An id (or list of ids, for eos) from generation_config.json / config.json; undefined when absent. */
function configIds(file: string, obj: Record<string, unknown> | undefined, key: string, vocabSize: number): number[] | undefined {
  if (obj === undefined) return undefined;
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  const ids: number[] = [];
  list.forEach((x, i) => {
    const k = Array.isArray(v) ? `${key}[${i}]` : key;
    if (typeof x !== 'number' || !Number.isInteger(x)) fail(file, k, `expected an integer token id, got ${describe(x)}`);
    // Early Llama conversions wrote pad_token_id: -1 to mean "none"; treat any negative id that way.
    if (x < 0) return;
    if (x >= vocabSize) fail(file, k, `token id ${x} is outside the tokenizer's vocabulary (size ${vocabSize})`);
    ids.push(x);
  });
  return ids.length > 0 ? ids : undefined;
}

export function resolveSpecialTokens(
  files: ConfigFiles,
  vocabSize: number,
  tokenToId: (t: string) => number | null,
  idToToken: (id: number) => string | null,
  /** Token strings to assume when no file declares the role (GPT2Tokenizer's "<|endoftext|>" defaults). */
  defaults: Partial<Record<SpecialRole, string>> = {},
): SpecialTokens {
  const declared = declaredTokenStrings(files);
  const result = {} as SpecialTokens;
  for (const role of SPECIAL_ROLES) {
    const d = declared[role];
    let token: string | null = null;
    let id: number | null = null;
    if (d !== undefined && d.token !== null) {
      id = tokenToId(d.token);
      if (id === null) fail(d.file, `${role}_token`, `${JSON.stringify(d.token)} is not in the tokenizer's vocabulary`);
      token = d.token;
    } else if (d === undefined && defaults[role] !== undefined && tokenToId(defaults[role]!) !== null) {
      token = defaults[role]!;
      id = tokenToId(token);
    } else if (d === undefined && role !== 'unk') {
      // Not declared by the tokenizer files at all: the model's configs may still name an id.
      const ids =
        configIds(files.generationConfigFile, files.generationConfig, `${role}_token_id`, vocabSize) ??
        configIds(files.modelConfigFile, files.modelConfig, `${role}_token_id`, vocabSize);
      if (ids !== undefined) {
        id = ids[0]!;
        token = idToToken(id);
      }
    }
    result[role] = { token, id };
  }
  // Generation stops at any of these; the tokenizer's own EOS first.
  const eosIds: number[] = [];
  if (result.eos.id !== null) eosIds.push(result.eos.id);
  const genEos =
    files.generationConfig !== undefined
      ? configIds(files.generationConfigFile, files.generationConfig, 'eos_token_id', vocabSize)
      : configIds(files.modelConfigFile, files.modelConfig, 'eos_token_id', vocabSize);
  for (const id of genEos ?? []) if (!eosIds.includes(id)) eosIds.push(id);
  result.eosIds = eosIds;
  result.additional = additionalSpecialTokens(files);
  return result;
}
