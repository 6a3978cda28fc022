/**
 * Streaming readers: files are read in chunks and never held whole, so a multi-gigabyte tick file costs the
 * memory of one chunk plus one record. Gzip files (`.gz`) are decompressed on the fly with node:zlib.
 *
 * Two levels: `readLines` for line-oriented formats (JSON lines, plain text) and `readCsvRecords`, an RFC 4180
 * parser whose records may span lines (quoted fields can hold delimiters, quotes and newlines). Both report the
 * 1-based line where each item starts and whether the file's last item ended with a newline, which is how a
 * truncated last line is told apart from a complete one.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { DataError } from './errors.js';

const CHUNK_BYTES = 1 << 16;

/** Decoded text chunks of a file; `.gz` files are gunzipped. A UTF-8 byte-order mark is removed. */
export async function* readTextChunks(file: string): AsyncGenerator<string> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new DataError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (stat.isDirectory()) throw new DataError(`${file}: is a directory, expected a file`);
  const raw = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const source: AsyncIterable<Buffer> = file.endsWith('.gz') ? raw.pipe(zlib.createGunzip()) : raw;
  // StringDecoder keeps a multi-byte character that straddles two chunks intact.
  const decoder = new StringDecoder('utf8');
  let first = true;
  try {
    for await (const buf of source) {
      let text = decoder.write(buf);
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      if (text.length > 0) yield text;
    }
  } catch (err) {
    raw.destroy();
    throw new DataError(`${file}: read failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const tail = decoder.end();
  if (tail.length > 0) yield tail;
}

export interface Line {
  text: string;
  /** 1-based. */
  line: number;
  /** False only for a last line that the file ends without a newline. */
  terminated: boolean;
}

/** Lines without their terminator (`\n` or `\r\n`). A file ending in a newline has no empty last line. */
export async function* readLines(file: string): AsyncGenerator<Line> {
  let pending = '';
  let lineNo = 0;
  for await (const chunk of readTextChunks(file)) {
    pending += chunk;
    let start = 0;
    for (;;) {
      const nl = pending.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && pending.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lineNo++;
      yield { text: pending.slice(start, end), line: lineNo, terminated: true };
      start = nl + 1;
    }
    pending = pending.slice(start);
  }
  if (pending.length > 0) {
    lineNo++;
    const text = pending.endsWith('\r') ? pending.slice(0, -1) : pending;
    yield { text, line: lineNo, terminated: false };
  }
}

export interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
  /** Whether any field was quoted: a quoted empty field is a value, an unquoted one is missing. */
  quoted: boolean[];
  /** False when the file ends without a newline after this record. */
  terminated: boolean;
  /** A syntax problem in this record (the record's fields are still the parser's best reading). */
  error?: string;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** Just read a `"` inside a quoted field: either the closing quote or the first half of `""`. */
  QuoteInQuoted,
}

/**
 * An RFC 4180 record parser fed with text chunks. Beyond the RFC it accepts `\n` alone as a record separator,
 * any one-character delimiter, and a `"` inside an unquoted field (kept literally, as most spreadsheet exports
 * do). Text between a closing quote and the next delimiter is a syntax error for that record. Completely empty
 * lines carry no data and are not records.
 */
export class CsvParser {
  private state = State.FieldStart;
  private field = '';
  private fields: string[] = [];
  private quoted: boolean[] = [];
  private fieldQuoted = false;
  private error: string | undefined;
  /** Line number of the character being read (1-based). */
  private lineNo = 1;
  private recordLine = 1;
  /** A `\r` seen at the end of the previous chunk, waiting to learn whether `\n` follows. */
  private pendingCR = false;
  private readonly delim: number;

  constructor(delimiter = ',') {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new DataError(`delimiter must be one character other than a quote or a newline, got ${JSON.stringify(delimiter)}`);
    }
    this.delim = delimiter.charCodeAt(0);
  }

  private endField(): void {
    this.fields.push(this.field);
    this.quoted.push(this.fieldQuoted);
    this.field = '';
    this.fieldQuoted = false;
  }

  private endRecord(out: CsvRecord[], terminated: boolean): void {
    this.endField();
    const empty = this.fields.length === 1 && this.fields[0] === '' && !this.quoted[0];
    if (!empty) {
      const rec: CsvRecord = { fields: this.fields, quoted: this.quoted, line: this.recordLine, terminated };
      if (this.error !== undefined) rec.error = this.error;
      out.push(rec);
    }
    this.fields = [];
    this.quoted = [];
    this.error = undefined;
    this.state = State.FieldStart;
  }

  /** Parses a chunk and returns the records it completed. */
  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    const n = chunk.length;
    let i = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      // A lone `\r` outside quotes is not a line break we support; `\r\n` was already counted at the `\r`.
      if (n > 0 && chunk.charCodeAt(0) === 10) i = 1;
    }
    for (; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (this.state === State.FieldStart && this.fields.length === 0 && this.field === '') this.recordLine = this.lineNo;
      if (this.state === State.Quoted) {
        if (c === 34) {
          this.state = State.QuoteInQuoted;
          continue;
        }
        // Everything up to the next quote belongs to the field, newlines included (counted for line numbers).
        let j = chunk.indexOf('"', i);
        if (j < 0) j = n;
        for (let k = chunk.indexOf('\n', i); k >= 0 && k < j; k = chunk.indexOf('\n', k + 1)) this.lineNo++;
        this.field += chunk.slice(i, j);
        i = j - 1;
        continue;
      }
      if (c === 13 || c === 10) {
        if (this.state === State.QuoteInQuoted) this.state = State.Unquoted;
        this.lineNo++;
        if (c === 13) {
          if (i + 1 < n) {
            if (chunk.charCodeAt(i + 1) === 10) i++;
          } else this.pendingCR = true;
        }
        this.endRecord(out, true);
        continue;
      }
      if (c === this.delim) {
        this.endField();
        this.state = State.FieldStart;
        continue;
      }
      if (this.state === State.FieldStart && c === 34) {
        this.state = State.Quoted;
        this.fieldQuoted = true;
        continue;
      }
      if (this.state === State.FieldStart || this.state === State.Unquoted) {
        this.state = State.Unquoted;
        // Fast path: copy the run of ordinary characters up to the next delimiter or line break in one slice
        // instead of one concatenation per character.
        let j = i + 1;
        while (j < n) {
          const d = chunk.charCodeAt(j);
          if (d === this.delim || d === 10 || d === 13) break;
          j++;
        }
        this.field += chunk.slice(i, j);
        i = j - 1;
        continue;
      }
      switch (this.state) {
        case State.QuoteInQuoted:
          if (c === 34) {
            // `""` inside quotes is one literal quote.
            this.field += '"';
            this.state = State.Quoted;
          } else {
            this.error ??= `unexpected character ${JSON.stringify(chunk[i])} after a closing quote in field ${this.fields.length + 1}`;
            this.field += chunk[i];
            this.state = State.Unquoted;
          }
          break;
      }
    }
    return out;
  }

  /** Flushes the last record; reports a quoted field the file ends inside. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.state === State.Quoted) {
      this.error ??= `unterminated quoted field ${this.fields.length + 1} (the file ends inside quotes opened on this record)`;
      this.endRecord(out, false);
    } else if (this.state !== State.FieldStart || this.fields.length > 0 || this.field !== '') {
      this.endRecord(out, false);
    }
    return out;
  }
}

export interface CsvReadOptions {
  delimiter?: string;
}

/** Streams the records of a delimited file. */
export async function* readCsvRecords(file: string, options: CsvReadOptions = {}): AsyncGenerator<CsvRecord> {
  const parser = new CsvParser(options.delimiter ?? ',');
  for await (const chunk of readTextChunks(file)) yield* parser.push(chunk);
  yield* parser.end();
}

/** The first line of a file (for format and delimiter detection), read without loading the rest. */
export async function firstLine(file: string): Promise<string | undefined> {
  for await (const l of readLines(file)) return l.text;
  return undefined;
}
