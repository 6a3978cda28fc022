/**
 * Daily exchange rates in the Federal Reserve H.10 layout (`fx-daily/daily.csv`): the first column is the date
 * (named `Data` in the shared file), then one column a currency; an empty cell means no quote that day and
 * becomes NaN, never 0 and never the previous day's value.
 */
import { BadRowLog, fileError, type BadRow, type OnBadRow } from '../errors.js';
import { readCsvRecords } from '../stream.js';
import { formatTime, parseTime } from '../time.js';
import { fieldCountProblem, parseNumberField } from './common.js';

export interface FxDailyOptions {
  delimiter?: string;
  onBadRow?: OnBadRow;
}

export interface FxDaily {
  file: string;
  time: Float64Array;
  lines: Int32Array;
  /** Currency (column) names in file order. */
  currencies: string[];
  /** One array per currency, NaN where the file has no quote. */
  rates: Map<string, Float64Array>;
  badRows: BadRow[];
  skipped: number;
}

export async function loadFxDaily(file: string, options: FxDailyOptions = {}): Promise<FxDaily> {
  const log = new BadRowLog(file, options.onBadRow ?? 'error');
  const delimiter = options.delimiter ?? ',';
  let header: string[] | undefined;
  const time: number[] = [];
  const lines: number[] = [];
  let columns: number[][] = [];
  let lastTime = NaN;
  let lastLine = 0;
  let dataRows = 0;
  for await (const rec of readCsvRecords(file, { delimiter })) {
    if (header === undefined) {
      header = rec.fields.map((f) => f.trim());
      if (header.length < 2) throw fileError(file, `header has ${header.length} column; expected a date column and at least one currency`, rec.line);
      columns = header.slice(1).map(() => []);
      continue;
    }
    dataRows++;
    const problems: string[] = [];
    if (rec.error) problems.push(rec.error);
    const count = fieldCountProblem(rec, header.length, delimiter);
    if (count) problems.push(count);
    const row: number[] = [];
    if (problems.length === 0) {
      const dateText = rec.fields[0]!.trim();
      const t = parseTime(dateText, 'iso');
      if (dateText === '') problems.push('missing date');
      else if (Number.isNaN(t)) problems.push(`unparsable date ${JSON.stringify(dateText)} (expected YYYY-MM-DD)`);
      else if (t === lastTime) problems.push(`duplicate date ${formatTime(t)} (also on line ${lastLine})`);
      else if (t < lastTime) problems.push(`out-of-order date ${formatTime(t)} comes after ${formatTime(lastTime)} on line ${lastLine}`);
      for (let c = 1; c < header.length; c++) {
        const text = rec.fields[c]!;
        if (text.trim() === '') {
          row.push(NaN);
          continue;
        }
        const parsed = parseNumberField(text, header[c]!);
        if (parsed.problem) problems.push(parsed.problem);
        else if (parsed.value <= 0) problems.push(`${header[c]} rate must be positive, got ${parsed.value}`);
        row.push(parsed.value);
      }
      if (problems.length === 0) {
        time.push(t);
        lines.push(rec.line);
        row.forEach((v, i) => columns[i]!.push(v));
        lastTime = t;
        lastLine = rec.line;
        continue;
      }
    }
    log.add(rec.line, problems.join('; '));
  }
  if (header === undefined) throw fileError(file, 'file is empty (expected a header: date column, then one column per currency)');
  if (dataRows === 0) throw fileError(file, 'has a header but no data rows');
  const badRows = log.finish();
  const currencies = header.slice(1);
  return {
    file,
    time: Float64Array.from(time),
    lines: Int32Array.from(lines),
    currencies,
    rates: new Map(currencies.map((c, i) => [c, Float64Array.from(columns[i]!)])),
    badRows,
    skipped: badRows.length,
  };
}
