/**
 * Reading the small JSON/text files of a Hugging Face tokenizer folder, with errors that start with the file's
 * path and, where a value is at fault, name its key (`tok/tokenizer.json: key "model.vocab": ...`).
 */
import fs from 'node:fs';

/**
 * V8 cannot make a string longer than ~512 MiB, and the largest real tokenizer.json files are a few tens of MB
 * (Gemma's is ~33 MB); anything far above that is not a tokenizer file and would only fail later, less clearly.
 */
const MAX_TOKENIZER_FILE_BYTES = 256 * 1024 * 1024;

/** Throws the uniform error: file path first, then the key when one is at fault. */
export function fail(file: string, key: string | null, msg: string): never {
  throw new Error(key === null ? `${file}: ${msg}` : `${file}: key "${key}": ${msg}`);
}

/** A short, safe rendering of a bad value for an error message (never dumps a whole vocabulary). */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return 'an object';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The file's text, or undefined when it does not exist (the caller decides whether that is an error). */
export function readTextIfExists(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    fail(file, null, `cannot be read (${(err as Error).message})`);
  }
  if (!st.isFile()) fail(file, null, 'is not a regular file');
  if (st.size > MAX_TOKENIZER_FILE_BYTES) {
    fail(file, null, `${st.size} bytes is too large for a tokenizer file (limit ${MAX_TOKENIZER_FILE_BYTES})`);
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    fail(file, null, `cannot be read (${(err as Error).message})`);
  }
}

/** Parses JSON text; a syntax error (e.g. a truncated file) names the file. */
export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(file, null, `not valid JSON (${(err as Error).message})`);
  }
}

/** Reads a JSON file whose top level must be an object; undefined when the file does not exist. */
export function readJsonObjectIfExists(file: string): Record<string, unknown> | undefined {
  const text = readTextIfExists(file);
  if (text === undefined) return undefined;
  const json = parseJson(file, text);
  if (!isPlainObject(json)) fail(file, null, `expected a JSON object at the top level, got ${describe(json)}`);
  return json;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own-property lookup: a key such as "constructor" or "__proto__" in a vocabulary must not hit Object.prototype. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}
