/**
 * Timestamps: parsed to milliseconds since the Unix epoch, UTC. Market files carry no zone as a rule (the
 * shared forex files are documented as UTC, daily files are calendar dates), so a time without an offset is
 * read as UTC; an explicit `Z` or `+HH:MM` is honoured.
 */

export type TimeFormat = 'iso' | 'us' | 'yyyymmdd' | 'unix-s' | 'unix-ms';
export const TIME_FORMATS: readonly TimeFormat[] = ['iso', 'us', 'yyyymmdd', 'unix-s', 'unix-ms'];

export const DAY_MS = 86_400_000;

// YYYY-MM-DD or YYYY.MM.DD (MetaTrader) or YYYY/MM/DD, optional time with ' ' or 'T', optional zone.
const ISO = /^(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const INTEGER = /^\d+$/;

function build(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NaN;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  // Date.UTC rolls 2021-02-30 over to March; a real calendar date survives the round trip.
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return t;
}

function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone === 'Z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

/** Milliseconds UTC, or NaN when `text` is not a valid time in `format`. */
export function parseTime(text: string, format: TimeFormat): number {
  const s = text.trim();
  switch (format) {
    case 'iso': {
      const m = ISO.exec(s);
      if (!m) return NaN;
      const frac = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
      const t = build(+m[1]!, +m[2]!, +m[3]!, m[4] ? +m[4] : 0, m[5] ? +m[5] : 0, m[6] ? +m[6] : 0, frac);
      return t - zoneOffsetMs(m[8]);
    }
    case 'us': {
      const m = US.exec(s);
      if (!m) return NaN;
      return build(+m[3]!, +m[1]!, +m[2]!, m[4] ? +m[4] : 0, m[5] ? +m[5] : 0, m[6] ? +m[6] : 0);
    }
    case 'yyyymmdd': {
      const m = COMPACT.exec(s);
      return m ? build(+m[1]!, +m[2]!, +m[3]!) : NaN;
    }
    case 'unix-s':
      return INTEGER.test(s) ? Number(s) * 1000 : NaN;
    case 'unix-ms':
      return INTEGER.test(s) ? Number(s) : NaN;
  }
}

/** The format a sample timestamp is written in, or undefined. Eight digits read as YYYYMMDD, not seconds. */
export function detectTimeFormat(sample: string): TimeFormat | undefined {
  const s = sample.trim();
  if (!Number.isNaN(parseTime(s, 'iso'))) return 'iso';
  if (!Number.isNaN(parseTime(s, 'us'))) return 'us';
  if (COMPACT.test(s) && !Number.isNaN(parseTime(s, 'yyyymmdd'))) return 'yyyymmdd';
  if (INTEGER.test(s)) {
    // 10 digits are seconds for 2001..2286, 13 digits milliseconds for the same range.
    if (s.length <= 11) return 'unix-s';
    if (s.length <= 14) return 'unix-ms';
  }
  return undefined;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `YYYY-MM-DD` for midnight, `YYYY-MM-DD HH:MM:SS` otherwise (UTC). */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (ms % DAY_MS === 0) return date;
  return `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `YYYY-MM-DD` of a time (UTC). */
export function formatDate(ms: number): string {
  return formatTime(Math.floor(ms / DAY_MS) * DAY_MS);
}

/** Parses a `YYYY-MM-DD` (or any 'iso') date given as a parameter; throws naming the parameter. */
export function parseDateParam(text: string, param: string): number {
  const t = parseTime(text, 'iso');
  if (Number.isNaN(t)) throw new Error(`${param}: ${JSON.stringify(text)} is not a date (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)`);
  return t;
}
