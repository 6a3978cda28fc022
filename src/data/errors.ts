/**
 * Bad-row bookkeeping shared by every loader.
 *
 * Market data has real defects (missing fields, duplicated bars, rows out of order). A loader never drops or
 * reorders a row silently: each defect becomes a `BadRow` naming the file and the 1-based line, and the caller's
 * `onBadRow` policy decides what happens next. With 'error' (the default) the loader reads the whole file first,
 * so one run reports every bad line instead of the first only, then throws a `DataError` listing them. With
 * 'skip' the rows are left out and the result carries the list and the count.
 */

export type OnBadRow = 'error' | 'skip';

export interface BadRow {
  file: string;
  /** 1-based line number where the offending record starts. */
  line: number;
  message: string;
}

/** `FILE:LINE: what is wrong`, the form editors and CI logs turn into links. */
export function formatBadRow(b: BadRow): string {
  return `${b.file}:${b.line}: ${b.message}`;
}

/** How many bad rows a thrown message spells out; the full list is always on `DataError.badRows`. */
const MESSAGE_ROWS = 20;

/** What kind of whole-file problem a DataError is, for callers that may tolerate some (a header-only file). */
export type DataErrorKind = 'empty' | 'no-rows' | 'bad-rows' | 'other';

export class DataError extends Error {
  constructor(
    message: string,
    readonly badRows: BadRow[] = [],
    readonly kind: DataErrorKind = badRows.length > 1 ? 'bad-rows' : 'other',
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** A problem with the whole file (empty, header only, unknown format) rather than with one row. */
export function fileError(file: string, message: string, line?: number, kind: DataErrorKind = 'other'): DataError {
  const where = line === undefined ? file : `${file}:${line}`;
  return new DataError(`${where}: ${message}`, line === undefined ? [] : [{ file, line, message }], kind);
}

/** Collects bad rows while a file is read and applies the policy at the end. */
export class BadRowLog {
  readonly rows: BadRow[] = [];
  constructor(
    readonly file: string,
    readonly policy: OnBadRow = 'error',
  ) {
    if (policy !== 'error' && policy !== 'skip') {
      throw new DataError(`onBadRow must be 'error' or 'skip', got ${JSON.stringify(policy)}`);
    }
  }

  add(line: number, message: string): void {
    this.rows.push({ file: this.file, line, message });
  }

  get count(): number {
    return this.rows.length;
  }

  /** Throws under the 'error' policy when anything was logged; returns the skipped rows otherwise. */
  finish(): BadRow[] {
    if (this.rows.length > 0 && this.policy === 'error') {
      const shown = this.rows.slice(0, MESSAGE_ROWS).map(formatBadRow);
      const more = this.rows.length > MESSAGE_ROWS ? `\n... and ${this.rows.length - MESSAGE_ROWS} more` : '';
      const noun = this.rows.length === 1 ? 'bad row' : 'bad rows';
      throw new DataError(
        `${this.file}: ${this.rows.length} ${noun} (pass onBadRow: 'skip' / --skip-bad to leave them out)\n${shown.join('\n')}${more}`,
        this.rows,
        'bad-rows',
      );
    }
    return this.rows;
  }
}
