/**
 * The safetensors format (Hugging Face): reader and writer.
 *
 * Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON, then the data section. The JSON maps each
 * tensor name to `{ "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }` (offsets relative to the start
 * of the data section, end exclusive) and may hold `"__metadata__": { string: string }`.
 *
 * Reading (`openSafetensors`) parses and validates only the header; each tensor is then read on demand with a
 * positional `fs.readSync`, so a multi-GB shard is never read whole (Node's `readFile` refuses files over 2 GiB)
 * and never held twice: the caller gets a fresh ArrayBuffer per tensor, which is also what makes every result
 * correctly aligned (the fixtures have I64 tensors at file offsets that are not multiples of 8; viewing the file
 * bytes in place would throw, so each tensor is read into its own buffer, which starts at offset 0).
 *
 * Validation: a safetensors file comes from the internet, so every header field is checked before it is used for
 * an allocation or a read. A bad file raises an `Error` whose message starts with the file's path and names the
 * tensor concerned; nothing allocates more than the file could hold. The rules match the Rust reference
 * implementation: header at most 100 MB, known dtypes only, shape × element size equal to the byte span, and the
 * tensors tiling the data section exactly (no gaps, no overlaps, nothing after the last tensor).
 *
 * Writing (`writeSafetensors`) lays tensors out as the reference library does — descending dtype alignment
 * (the order of its `Dtype` enum), then by name — with compact JSON, `__metadata__` first (keys sorted, for a
 * stable byte image), and the header padded with spaces to a multiple of 8 bytes so the data section starts
 * aligned. The file goes through `AtomicFileWriter`: a crash never leaves a half-written file behind.
 * Reading a file we wrote and writing it again gives identical bytes.
 */
import fs from 'node:fs';
import { AtomicFileWriter } from './atomic.js';
import { bf16ToF32, f16ToF32 } from '../tensor/half.js';

/** The dtypes fintune reads and writes (a subset of the format's: no U16/U32/U64 or FP8). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * The typed array each dtype is read into. F16 and BF16 come back as their raw 16-bit patterns (Uint16Array);
 * convert with `toFloat32` or the functions of `src/tensor/half.ts`. BOOL is one byte per element, 0 or 1.
 */
export type RawTensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/**
 * Rank in the reference library's `Dtype` enum, which is declared in increasing alignment order
 * (BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64); its writer sorts by this, descending.
 * The gaps are the dtypes fintune does not handle, kept so the relative order is exactly the library's.
 */
const DTYPE_RANK: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  F16: 5,
  BF16: 6,
  I32: 7,
  F32: 9,
  F64: 10,
  I64: 11,
});

export function isSafetensorsDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, x);
}

/** One tensor of a safetensors file, as described by its header. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Number of elements (product of shape; 1 for a scalar with shape []). */
  numel: number;
  /** Absolute byte position of the tensor's data in the file. */
  byteOffset: number;
  byteLength: number;
  /** `data_offsets` as stored: relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A tensor as returned by `readSafetensors` and accepted by `writeSafetensors`. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Little-endian element bytes, `numel × DTYPE_SIZE[dtype]` of them. Any typed array (or DataView) will do. */
  data: ArrayBufferView;
}

/**
 * A tensor to write whose bytes are produced only when the writer reaches it — e.g. a weight converted to bf16
 * on the way out — so that a large checkpoint is saved without holding every converted tensor at once.
 * `load` is called exactly once, in file order, and must return `numel × DTYPE_SIZE[dtype]` bytes.
 */
export interface LazySafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  load: () => ArrayBufferView;
}

export type SafetensorsTensorSource = SafetensorsTensor | LazySafetensorsTensor;
type TensorMap = Record<string, SafetensorsTensorSource> | Map<string, SafetensorsTensorSource>;

/** The reference implementation's limit; a longer header is treated as hostile. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Highest tensor rank accepted (PyTorch itself stops well below this). */
export const MAX_DIMS = 64;
/** Reads are split into pieces of at most this many bytes (readSync's length is limited to ~2 GiB). */
const MAX_READ_CHUNK = 1 << 30;

function fail(file: string, msg: string): never {
  throw new Error(`${file}: ${msg}`);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

const shapeStr = (s: readonly unknown[]): string => `[${s.map((d) => JSON.stringify(d)).join(', ')}]`;

/**
 * Names of the top-level keys of a JSON object text, in order, duplicates included. `JSON.parse` silently keeps
 * the last of two equal keys, which would hide a second tensor description; this scan lets us refuse it.
 * Only called on text JSON.parse has accepted, so the grammar is known to be valid.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      const end = i + 1;
      i = end;
      if (depth === 1) {
        // A string directly inside the top object is a key iff a colon follows it.
        let j = i;
        while (j < n && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
        if (text[j] === ':') keys.push(JSON.parse(text.slice(start, end)) as string);
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) depth++;
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
    i++;
  }
  return keys;
}

export interface ParsedHeader {
  /** Tensors in header order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** N, the JSON header's byte length. */
  headerLength: number;
  /** Absolute file offset of the data section (8 + N). */
  dataStart: number;
}

/**
 * Validates a header and the tensor layout it describes. `file` only labels errors; `fileSize` is the size of
 * the whole file, which bounds every offset. Exported for tools that read the header some other way.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file: string): ParsedHeader {
  const headerLength = headerBytes.byteLength;
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  if (dataLength < 0) fail(file, `header of ${headerLength} bytes runs past the end of the ${fileSize}-byte file`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(file, 'header is not a JSON object');
  }
  const seen = new Set<string>();
  for (const k of topLevelKeys(text)) {
    if (seen.has(k)) fail(file, `header names ${k === '__metadata__' ? '"__metadata__"' : `tensor "${k}"`} twice`);
    seen.add(k);
  }

  const header = json as Record<string, unknown>;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const name of Object.keys(header)) {
    const info = header[name];
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) {
        fail(file, '"__metadata__" is not an object of strings');
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(file, `"__metadata__" entry "${k}" is not a string`);
        // defineProperty, not assignment: a key named "__proto__" must stay plain data.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    // A hostile name could be megabytes long; keep error messages readable.
    const where = `tensor "${name.length > 200 ? `${name.slice(0, 200)}…` : name}"`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(file, `${where}: description is not an object`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (!isSafetensorsDtype(dtype)) {
      fail(file, `${where}: unknown or unsupported dtype ${JSON.stringify(dtype) ?? 'undefined'}`);
    }
    if (!Array.isArray(shape)) fail(file, `${where}: shape is missing or not an array`);
    // Bounding the rank bounds the cost of the exact size product below and the length of error messages.
    if (shape.length > MAX_DIMS) fail(file, `${where}: shape has ${shape.length} dimensions, more than ${MAX_DIMS}`);
    for (const d of shape) {
      if (!isNonNegInt(d)) fail(file, `${where}: shape ${shapeStr(shape)} has a dimension that is not a non-negative integer`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1])) {
      fail(file, `${where}: data_offsets ${JSON.stringify(offs) ?? 'undefined'} is not a pair of non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(file, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      fail(
        file,
        `${where}: data_offsets [${begin}, ${end}] reach past the ${dataLength}-byte data section (file truncated?)`,
      );
    }
    const span = end - begin;
    const size = DTYPE_SIZE[dtype];
    // Multiply in BigInt: a hostile shape like [1e9, 1e9, 1e9] must neither overflow into a false match nor
    // print as an inexact float in the error.
    const need = (shape as number[]).reduce((a, d) => a * BigInt(d), 1n) * BigInt(size);
    if (need !== BigInt(span)) {
      fail(file, `${where}: data_offsets [${begin}, ${end}] but shape ${shapeStr(shape)} ${dtype} needs ${need} bytes`);
    }
    const numel = span / size;
    entries.push({
      name,
      dtype,
      shape: (shape as number[]).slice(),
      numel,
      byteOffset: dataStart + begin,
      byteLength: span,
      dataOffsets: [begin, end],
    });
  }

  // The tensors must tile the data section exactly, like the reference reader demands: an overlap means two
  // tensors alias bytes (a writer bug or a crafted file), a gap or a tail means bytes nobody accounts for.
  const byStart = entries.slice().sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let pos = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of byStart) {
    const [b, en] = e.dataOffsets;
    if (b < pos) {
      fail(file, `tensor "${e.name}": data_offsets [${b}, ${en}] overlap tensor "${prev!.name}" [${prev!.dataOffsets[0]}, ${prev!.dataOffsets[1]}]`);
    }
    if (b > pos) {
      fail(
        file,
        `tensor "${e.name}": data_offsets [${b}, ${en}] leave bytes [${pos}, ${b}) of the data section unused` +
          (prev ? ` (after tensor "${prev.name}")` : ''),
      );
    }
    pos = en;
    prev = e;
  }
  if (pos !== dataLength) {
    fail(
      file,
      `tensors cover ${pos} bytes but the data section has ${dataLength}` +
        (prev ? ` (${dataLength - pos} bytes after tensor "${prev.name}")` : ''),
    );
  }
  return { entries, metadata, headerLength, dataStart };
}

/** An open safetensors file: the validated header, and tensors read on demand. Call `close()` when done. */
export class SafetensorsFile {
  readonly path: string;
  /** Tensors in header order. */
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly headerLength: number;
  readonly dataStart: number;
  readonly fileSize: number;
  private fd: number | undefined;
  private readonly byName: Map<string, SafetensorsEntry>;

  /** Use `openSafetensors`. Takes ownership of `fd`. */
  constructor(path: string, fd: number, fileSize: number, parsed: ParsedHeader) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fileSize;
    this.entries = parsed.entries;
    this.metadata = parsed.metadata;
    this.headerLength = parsed.headerLength;
    this.dataStart = parsed.dataStart;
    this.byName = new Map(parsed.entries.map((e) => [e.name, e]));
  }

  /** Tensor names in header order. */
  keys(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The header entry of `name`; throws naming the file if there is none. */
  entry(name: string): SafetensorsEntry {
    const e = this.byName.get(name);
    if (!e) fail(this.path, `no tensor named "${name}"`);
    return e;
  }

  /**
   * Reads the raw bytes of `name` into `dest` (its length must be exactly the tensor's byte length). Lets a
   * loader fill memory it already owns (a pooled or native buffer) without an intermediate copy.
   */
  readInto(name: string, dest: Uint8Array): void {
    const e = this.entry(name);
    if (dest.byteLength !== e.byteLength) {
      fail(this.path, `tensor "${name}": destination has ${dest.byteLength} bytes, the tensor ${e.byteLength}`);
    }
    if (this.fd === undefined) fail(this.path, `tensor "${name}": read after close()`);
    let done = 0;
    while (done < e.byteLength) {
      const want = Math.min(e.byteLength - done, MAX_READ_CHUNK);
      const got = fs.readSync(this.fd, dest, done, want, e.byteOffset + done);
      // The header was checked against the size at open time; a short read means the file shrank since.
      if (got === 0) fail(this.path, `tensor "${name}": file ended after ${done} of ${e.byteLength} bytes (truncated while open?)`);
      done += got;
    }
  }

  /** The raw bytes of `name`, in a fresh (hence aligned) buffer. */
  readBytes(name: string): Uint8Array {
    const e = this.entry(name);
    const bytes = new Uint8Array(e.byteLength);
    this.readInto(name, bytes);
    return bytes;
  }

  /** `name` as a typed array of its stored dtype (see `RawTensorData`). */
  read(name: string): RawTensorData {
    const e = this.entry(name);
    return viewAs(this.readBytes(name).buffer, e.dtype, e.numel);
  }

  /** `name` with its dtype and shape. */
  readTensor(name: string): { dtype: SafetensorsDtype; shape: number[]; data: RawTensorData } {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: e.shape.slice(), data: this.read(name) };
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Views a whole buffer as the typed array of `dtype`. The buffer is ours and starts at 0, so always aligned. */
function viewAs(buf: ArrayBufferLike, dtype: SafetensorsDtype, numel: number): RawTensorData {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf, 0, numel);
    case 'F32':
      return new Float32Array(buf, 0, numel);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf, 0, numel);
    case 'I64':
      return new BigInt64Array(buf, 0, numel);
    case 'I32':
      return new Int32Array(buf, 0, numel);
    case 'I16':
      return new Int16Array(buf, 0, numel);
    case 'I8':
      return new Int8Array(buf, 0, numel);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buf, 0, numel);
  }
}

/** Opens `file` and validates its header (reads nothing else). Throws an Error naming the file on any problem. */
export function openSafetensors(file: string): SafetensorsFile {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) fail(file, `file has ${fileSize} bytes, fewer than the 8-byte header length`);
    const lenBytes = Buffer.alloc(8);
    if (fs.readSync(fd, lenBytes, 0, 8, 0) !== 8) fail(file, 'could not read the 8-byte header length');
    const n = lenBytes.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
    const headerLength = Number(n);
    if (8 + headerLength > fileSize) {
      fail(file, `header length ${headerLength} runs past the end of the ${fileSize}-byte file (truncated or not safetensors?)`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    let done = 0;
    while (done < headerLength) {
      const got = fs.readSync(fd, headerBytes, done, headerLength - done, 8 + done);
      if (got === 0) fail(file, 'file ended inside the header');
      done += got;
    }
    const parsed = parseSafetensorsHeader(headerBytes, fileSize, file);
    return new SafetensorsFile(file, fd, fileSize, parsed);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Opens `file`, runs `fn`, and closes the file whatever happens. */
export function withSafetensors<T>(file: string, fn: (f: SafetensorsFile) => T): T {
  const f = openSafetensors(file);
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

/** Every tensor of `file`, in header order, with the metadata. For small files (fixtures, adapters, states). */
export function readSafetensors(file: string): {
  tensors: Map<string, { dtype: SafetensorsDtype; shape: number[]; data: RawTensorData }>;
  metadata: Record<string, string>;
} {
  return withSafetensors(file, (f) => {
    const tensors = new Map<string, { dtype: SafetensorsDtype; shape: number[]; data: RawTensorData }>();
    for (const e of f.entries) tensors.set(e.name, f.readTensor(e.name));
    return { tensors, metadata: { ...f.metadata } };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Conversions

/**
 * Widens float data read from a file to a Float32Array. F32 input is returned as is (not copied); F64 is rounded
 * to nearest; F16/BF16 are exact. Integer dtypes are refused — use `toInt32`.
 */
export function toFloat32(data: RawTensorData, dtype: SafetensorsDtype): Float32Array {
  switch (dtype) {
    case 'F32':
      return data as Float32Array;
    case 'F64':
      return Float32Array.from(data as Float64Array);
    case 'BF16':
      return bf16ToF32(data as Uint16Array);
    case 'F16':
      return f16ToF32(data as Uint16Array);
    default:
      throw new Error(`toFloat32: dtype ${dtype} is not a floating-point dtype`);
  }
}

/**
 * Integer data (I64/I32/I16/I8/U8/BOOL) as an Int32Array — the index dtype of the backend. I64 values outside
 * the int32 range throw, naming `label` (e.g. the file and tensor), rather than wrapping silently.
 * An Int32Array input is returned as is.
 */
export function toInt32(data: RawTensorData, dtype: SafetensorsDtype, label = 'tensor'): Int32Array {
  switch (dtype) {
    case 'I32':
      return data as Int32Array;
    case 'I64': {
      const src = data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (v < -2147483648n || v > 2147483647n) {
          throw new Error(`${label}: I64 value ${v} at index ${i} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'I16':
    case 'I8':
    case 'U8':
    case 'BOOL':
      return Int32Array.from(data as Int16Array | Int8Array | Uint8Array);
    default:
      throw new Error(`${label}: toInt32 needs an integer dtype, got ${dtype}`);
  }
}

/** Integer data as a BigInt64Array (I64 returned as is), e.g. to write token ids in the HF convention. */
export function toInt64(data: ArrayLike<number> | RawTensorData, dtype?: SafetensorsDtype): BigInt64Array {
  if (data instanceof BigInt64Array) return data;
  if (dtype && !['I32', 'I16', 'I8', 'U8', 'BOOL'].includes(dtype)) throw new Error(`toInt64: dtype ${dtype} is not an integer dtype`);
  const src = data as ArrayLike<number>;
  const out = new BigInt64Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = BigInt(src[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

const asBytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** A tensor's bytes, produced now if it is lazy, checked against the length its header entry promised. */
function tensorBytes(name: string, t: SafetensorsTensorSource, byteLength: number, file: string): Uint8Array {
  const data = 'load' in t ? t.load() : t.data;
  if (!data || !ArrayBuffer.isView(data) || data.byteLength !== byteLength) {
    fail(file, `tensor "${name}": shape ${shapeStr(t.shape)} ${t.dtype} needs ${byteLength} bytes, data has ${data?.byteLength ?? 'none'}`);
  }
  return asBytes(data);
}

/** Compares names by their UTF-8 bytes, as Rust's `str` ordering does (JS `<` compares UTF-16 code units). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A tensor in file order, with the byte length its header entry declares. */
export interface PlannedTensor {
  name: string;
  source: SafetensorsTensorSource;
  byteLength: number;
}

/**
 * The header bytes (8-byte length + padded JSON) and the tensors in data order, for a set of tensors.
 * Validates dtypes, shapes and (for in-memory tensors) byte lengths; `file` labels errors.
 */
export function prepareSafetensorsHeader(
  tensors: TensorMap,
  metadata: Record<string, string> | undefined,
  file = '<memory>',
): { header: Uint8Array; order: PlannedTensor[] } {
  const entries: [string, SafetensorsTensorSource][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const order: PlannedTensor[] = [];
  for (const [name, t] of entries) {
    const where = `tensor "${name}"`;
    if (name === '__metadata__') fail(file, 'a tensor cannot be named "__metadata__"');
    if (!t || typeof t !== 'object') fail(file, `${where}: not a tensor description`);
    if (!isSafetensorsDtype(t.dtype)) fail(file, `${where}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.length > MAX_DIMS || !t.shape.every(isNonNegInt)) {
      fail(file, `${where}: shape ${JSON.stringify(t.shape)} is not a list of at most ${MAX_DIMS} non-negative integers`);
    }
    const byteLength = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
    if (!Number.isSafeInteger(byteLength)) fail(file, `${where}: shape ${shapeStr(t.shape)} is too large`);
    if ('load' in t) {
      if (typeof t.load !== 'function') fail(file, `${where}: load is not a function`);
    } else {
      // Checked now, before anything is written, so a bad argument never costs a partial write.
      tensorBytes(name, t, byteLength, file);
    }
    order.push({ name, source: t, byteLength });
  }
  // The reference library's order: descending dtype alignment, then name.
  order.sort((a, b) => DTYPE_RANK[b.source.dtype] - DTYPE_RANK[a.source.dtype] || compareUtf8(a.name, b.name));

  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') fail(file, `metadata "${k}" is not a string`);
    }
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const { name, source, byteLength } of order) {
    const end = offset + byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${source.dtype}","shape":[${source.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  if (json.byteLength > MAX_HEADER_BYTES) fail(file, `header would be ${json.byteLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  // Pad with spaces (valid JSON whitespace) so the data section begins on an 8-byte boundary of the file.
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, order };
}

/**
 * Writes `tensors` (and optional string `metadata`) to `file` atomically, streaming one tensor at a time so
 * nothing is duplicated in memory; lazy tensors are produced one at a time as they are reached. Tensors are
 * laid out in the reference library's order (see module comment). On any error the destination is untouched.
 */
export function writeSafetensors(file: string, tensors: TensorMap, metadata?: Record<string, string>): void {
  const { header, order } = prepareSafetensorsHeader(tensors, metadata, file);
  const w = new AtomicFileWriter(file);
  try {
    w.write(header);
    for (const { name, source, byteLength } of order) w.write(tensorBytes(name, source, byteLength, file));
  } catch (err) {
    w.abort();
    throw err;
  }
  w.commit();
}

/** The bytes of a safetensors file in memory (for tests and small payloads). */
export function serializeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const { header, order } = prepareSafetensorsHeader(tensors, metadata);
  const total = order.reduce((s, t) => s + t.byteLength, header.byteLength);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const { name, source, byteLength } of order) {
    out.set(tensorBytes(name, source, byteLength, '<memory>'), pos);
    pos += byteLength;
  }
  return out;
}
