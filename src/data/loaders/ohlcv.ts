/**
 * OHLCV bars from delimited text: the shared forex files (tab-separated `Time Open High Low Close Volume`),
 * StockNet prices (`Date,Open,High,Low,Close,Adj Close,Volume`), VIX (`DATE,OPEN,HIGH,LOW,CLOSE`, CRLF) and any
 * user's file. Delimiter, header and timestamp format are detected from the first lines unless given.
 *
 * Rows are validated one by one against the last accepted row, so a file is read in one streaming pass.
 */
import { BadRowLog, DataError, fileError, type BadRow, type OnBadRow } from '../errors.js';
import { readCsvRecords, readLines, type CsvRecord } from '../stream.js';
import { detectTimeFormat, formatTime, parseTime, TIME_FORMATS, type TimeFormat } from '../time.js';
import { describeDelimiter, detectDelimiter, fieldCountProblem, isNumberText, normalizeName, parseNumberField } from './common.js';
import { isParquet, parquetColumns, readParquetRows } from './parquet.js';

export type PriceField = 'open' | 'high' | 'low' | 'close' | 'adjClose';
export type BarField = PriceField | 'volume';

export interface OhlcvOptions {
  /** Default: detected from the first line (tab, comma, semicolon or pipe). */
  delimiter?: string;
  /** Whether the first line names the columns. Default: detected (a first line whose first field is a time is data). */
  header?: boolean;
  /** Column names for a file without a header. Default by count: 5 = T,O,H,L,C; 6 = +Volume; 7 = StockNet order. */
  columns?: string[];
  /** Default: detected from the first data row. */
  timeFormat?: TimeFormat;
  onBadRow?: OnBadRow;
}

export interface OhlcvSeries {
  file: string;
  /** Milliseconds since the epoch, UTC, strictly increasing. */
  time: Float64Array;
  open?: Float64Array;
  high?: Float64Array;
  low?: Float64Array;
  close: Float64Array;
  adjClose?: Float64Array;
  volume?: Float64Array;
  /** 1-based source line of each row, for messages about derived data. */
  lines: Int32Array;
  /** The columns as named in the file (or as given / defaulted). */
  columns: string[];
  delimiter: string;
  header: boolean;
  timeFormat: TimeFormat;
  /** Rows left out under onBadRow 'skip' (empty under 'error', which throws instead). */
  badRows: BadRow[];
  skipped: number;
}

const ALIASES: Record<BarField | 'time' | 'date' | 'clock', string[]> = {
  time: ['time', 'datetime', 'timestamp', 'date_time', 'gmt time', 'local time'],
  date: ['date', 'day', 'data'],
  clock: ['hour', 'clock', 'tm'],
  open: ['open', 'o', 'opening'],
  high: ['high', 'h', 'max'],
  low: ['low', 'l', 'min'],
  close: ['close', 'c', 'closing', 'price', 'last', 'value'],
  adjClose: ['adj close', 'adjclose', 'adjusted close', 'adj_close'],
  volume: ['volume', 'vol', 'v', 'tickvol', 'tick volume', 'real volume'],
};

const LABEL: Record<BarField, string> = {
  open: 'Open',
  high: 'High',
  low: 'Low',
  close: 'Close',
  adjClose: 'Adj Close',
  volume: 'Volume',
};

const DEFAULT_COLUMNS: Record<number, string[]> = {
  2: ['Time', 'Close'],
  5: ['Time', 'Open', 'High', 'Low', 'Close'],
  6: ['Time', 'Open', 'High', 'Low', 'Close', 'Volume'],
  7: ['Date', 'Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume'],
};

interface Layout {
  /** Index of the time column, or [date, clock] when the file splits them (MetaTrader exports). */
  time: number | [number, number];
  fields: Partial<Record<BarField, number>>;
}

function findColumn(header: string[], aliases: string[]): number {
  const wanted = aliases.map(normalizeName);
  return header.findIndex((h) => wanted.includes(normalizeName(h)));
}

function layoutFor(file: string, header: string[]): Layout {
  const time = findColumn(header, ALIASES.time);
  const date = findColumn(header, ALIASES.date);
  const clock = findColumn(header, ALIASES.clock);
  let t: Layout['time'];
  if (time >= 0 && date >= 0 && time !== date) t = [date, time];
  else if (time >= 0) t = time;
  else if (date >= 0 && clock >= 0) t = [date, clock];
  else if (date >= 0) t = date;
  else throw new DataError(`${file}:1: no time column (looked for Time, Date, Datetime, Timestamp; header is ${header.map((h) => JSON.stringify(h)).join(', ')})`);
  const fields: Layout['fields'] = {};
  // Adj Close first, so that a plain `close` alias never captures it.
  for (const f of ['adjClose', 'open', 'high', 'low', 'close', 'volume'] as BarField[]) {
    const idx = header.findIndex(
      (h, i) => ALIASES[f].map(normalizeName).includes(normalizeName(h)) && !Object.values(fields).includes(i),
    );
    if (idx >= 0) fields[f] = idx;
  }
  if (fields.close === undefined) {
    throw new DataError(`${file}:1: no Close column (header is ${header.map((h) => JSON.stringify(h)).join(', ')})`);
  }
  return { time: t, fields };
}

function timeText(fields: string[], layout: Layout): string {
  return typeof layout.time === 'number' ? (fields[layout.time] ?? '') : `${fields[layout.time[0]] ?? ''} ${fields[layout.time[1]] ?? ''}`;
}

/** The first non-empty line, for delimiter and header detection, without reading the rest of the file. */
async function firstNonEmptyLine(file: string): Promise<string | undefined> {
  for await (const l of readLines(file)) if (l.text.trim() !== '') return l.text;
  return undefined;
}

export async function loadOhlcv(file: string, options: OhlcvOptions = {}): Promise<OhlcvSeries> {
  if (isParquet(file)) return loadOhlcvParquet(file, options);
  const log = new BadRowLog(file, options.onBadRow ?? 'error');
  const first = await firstNonEmptyLine(file);
  if (first === undefined) throw fileError(file, 'file is empty (expected a header line and OHLCV rows)', undefined, 'empty');

  const delimiter = options.delimiter ?? detectDelimiter(first);
  if (delimiter === undefined) {
    throw fileError(file, `cannot detect the delimiter from the first line ${JSON.stringify(first.slice(0, 80))}; pass delimiter (tab, ",", ";" or "|")`, 1);
  }
  const firstFields = first.split(delimiter);
  const header = options.header ?? !(detectTimeFormat(firstFields[0] ?? '') && firstFields.slice(1).every((f) => isNumberText(f) || f.trim() === ''));
  let columns: string[];
  if (header) columns = firstFields.map((f) => f.trim().replace(/^"(.*)"$/, '$1'));
  else {
    const given = options.columns ?? DEFAULT_COLUMNS[firstFields.length];
    if (!given) {
      throw fileError(file, `no header and ${firstFields.length} columns; pass columns (names such as Time, Open, High, Low, Close, Volume)`, 1);
    }
    columns = given;
  }
  if (options.timeFormat !== undefined && !TIME_FORMATS.includes(options.timeFormat)) {
    throw new DataError(`timeFormat must be one of ${TIME_FORMATS.join(', ')}, got ${JSON.stringify(options.timeFormat)}`);
  }
  const layout = layoutFor(file, columns);
  const bars = new BarBuilder(file, Object.keys(layout.fields) as BarField[], log, options.timeFormat);
  let dataRows = 0;
  let headerPending = header;
  for await (const rec of readCsvRecords(file, { delimiter })) {
    // The first record is the header even when blank lines come before it.
    if (headerPending) {
      headerPending = false;
      continue;
    }
    dataRows++;
    const problems = checkRecord(rec, columns.length, delimiter);
    if (problems.length > 0) {
      log.add(rec.line, problems.join('; '));
      continue;
    }
    const fields: Partial<Record<BarField, string>> = {};
    for (const f of bars.present) fields[f] = rec.fields[layout.fields[f]!]!;
    bars.add(rec.line, timeText(rec.fields, layout), fields);
  }
  if (dataRows === 0) {
    throw fileError(file, header ? `has a header (${columns.join(', ')}) but no data rows` : 'has no data rows', undefined, 'no-rows');
  }
  return bars.finish({ columns, delimiter, header });
}

/**
 * Validates bars one at a time against the last accepted one and collects the good ones. Shared by the text
 * and Parquet paths, so both report the same problems in the same words.
 */
class BarBuilder {
  private readonly values: Record<BarField, number[]> = { open: [], high: [], low: [], close: [], adjClose: [], volume: [] };
  private readonly time: number[] = [];
  private readonly lines: number[] = [];
  private lastTime = NaN;
  private lastLine = 0;

  constructor(
    private readonly file: string,
    readonly present: BarField[],
    private readonly log: BadRowLog,
    private timeFormat: TimeFormat | undefined,
  ) {}

  /** `timeValue` is text (detected format), a Date, or epoch milliseconds; field values text or numbers. */
  add(line: number, timeValue: unknown, fields: Partial<Record<BarField, unknown>>): void {
    const problems: string[] = [];
    const t = this.parseTimeValue(timeValue, problems);
    if (!Number.isNaN(t)) {
      if (t === this.lastTime) problems.push(`duplicate timestamp ${formatTime(t)} (also on line ${this.lastLine})`);
      else if (t < this.lastTime) problems.push(`out-of-order timestamp ${formatTime(t)} comes after ${formatTime(this.lastTime)} on line ${this.lastLine}`);
    }
    const row: Partial<Record<BarField, number>> = {};
    for (const f of this.present) {
      const v = fields[f];
      const parsed =
        typeof v === 'number' || typeof v === 'bigint'
          ? Number.isFinite(Number(v))
            ? { value: Number(v) }
            : { value: NaN, problem: Number.isNaN(Number(v)) ? `${LABEL[f]} is NaN` : `${LABEL[f]} is not finite: ${String(v)}` }
          : parseNumberField(v === null || v === undefined ? '' : String(v), LABEL[f]);
      if (parsed.problem) problems.push(parsed.problem);
      else if (parsed.value < 0) problems.push(`negative ${LABEL[f]}: ${parsed.value}`);
      row[f] = parsed.value;
    }
    if (row.high !== undefined && row.low !== undefined && row.high < row.low) {
      problems.push(`High ${row.high} is below Low ${row.low}`);
    }
    if (problems.length > 0) {
      this.log.add(line, problems.join('; '));
      return;
    }
    this.time.push(t);
    this.lines.push(line);
    for (const f of this.present) this.values[f].push(row[f]!);
    this.lastTime = t;
    this.lastLine = line;
  }

  private parseTimeValue(v: unknown, problems: string[]): number {
    if (v instanceof Date) {
      const t = v.getTime();
      if (Number.isNaN(t)) problems.push('invalid time');
      this.timeFormat ??= 'unix-ms';
      return t;
    }
    if (typeof v === 'number' || typeof v === 'bigint') v = String(v);
    const tt = typeof v === 'string' ? v.trim() : '';
    if (tt === '') {
      problems.push('missing time');
      return NaN;
    }
    this.timeFormat ??= detectTimeFormat(tt);
    const t = this.timeFormat === undefined ? NaN : parseTime(tt, this.timeFormat);
    if (Number.isNaN(t)) problems.push(`unparsable time ${JSON.stringify(tt)}${this.timeFormat ? ` (expected the ${this.timeFormat} format of the first row)` : ''}`);
    return t;
  }

  finish(meta: { columns: string[]; delimiter: string; header: boolean }): OhlcvSeries {
    const badRows = this.log.finish();
    if (this.time.length === 0) {
      throw fileError(this.file, `no valid rows: all ${badRows.length} data rows are bad (first: line ${badRows[0]!.line}: ${badRows[0]!.message})`, undefined, 'bad-rows');
    }
    const series: OhlcvSeries = {
      file: this.file,
      time: Float64Array.from(this.time),
      close: Float64Array.from(this.values.close),
      lines: Int32Array.from(this.lines),
      ...meta,
      timeFormat: this.timeFormat!,
      badRows,
      skipped: badRows.length,
    };
    for (const f of this.present) if (f !== 'close') series[f] = Float64Array.from(this.values[f]);
    return series;
  }
}

/**
 * OHLCV rows from a Parquet file (columns named as in a CSV header). A TIMESTAMP column arrives as Date; a
 * text column is parsed like CSV text; integers are read as Unix seconds or milliseconds by their length.
 */
export async function loadOhlcvParquet(file: string, options: Pick<OhlcvOptions, 'onBadRow' | 'timeFormat'> = {}): Promise<OhlcvSeries> {
  const log = new BadRowLog(file, options.onBadRow ?? 'error');
  const columns = await parquetColumns(file);
  const layout = layoutFor(file, columns);
  const bars = new BarBuilder(file, Object.keys(layout.fields) as BarField[], log, options.timeFormat);
  let rows = 0;
  for await (const { value, line } of readParquetRows(file)) {
    rows++;
    const fields: Partial<Record<BarField, unknown>> = {};
    for (const f of bars.present) fields[f] = value[columns[layout.fields[f]!]!];
    const timeValue = typeof layout.time === 'number' ? value[columns[layout.time]!] : `${String(value[columns[layout.time[0]]!] ?? '')} ${String(value[columns[layout.time[1]]!] ?? '')}`;
    bars.add(line, timeValue, fields);
  }
  if (rows === 0) throw fileError(file, 'has no rows', undefined, 'no-rows');
  return bars.finish({ columns, delimiter: '', header: true });
}

function checkRecord(rec: CsvRecord, expected: number, delimiter: string): string[] {
  if (rec.error) return [rec.error];
  const count = fieldCountProblem(rec, expected, delimiter);
  return count ? [count] : [];
}

/** The values of one field; a clear error when the file has no such column. */
export function seriesField(series: OhlcvSeries, field: BarField): Float64Array {
  const v = series[field];
  if (!v) throw new DataError(`${series.file}: has no ${LABEL[field]} column (columns: ${series.columns.join(', ')})`);
  return v;
}

export { describeDelimiter };
