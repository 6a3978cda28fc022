/**
 * Constrained decoding: at each step only tokens that keep the output a valid prefix of a small grammar are
 * allowed, so a forecast always parses.
 */

/** One row's constraint: which tokens may come next, and its state after each chosen token. */
export interface TokenConstraint {
  /** allowed[id] = 1 when the token may come next. */
  allowed(): Uint8Array;
  advance(token: number): void;
  /** True when the grammar is complete and nothing more should be generated. */
  done(): boolean;
}

export interface NumericListOptions {
  /** How many numbers (the forecast horizon). */
  count: number;
  /** Digits after the decimal point (0 = integers, no point). */
  precision: number;
  /** Between numbers (default one space). */
  separator?: string;
  allowNegative?: boolean;
  /** At most this many digits before the point (default 8). */
  maxIntDigits?: number;
  /** One space allowed before the first number (byte-level BPE tokens often start with one). Default true. */
  allowLeadingSpace?: boolean;
  /** Tokens allowed once the list is complete (EOS, newline token…). Without any, generation stops there. */
  endTokenIds?: number[];
}

type State =
  | { k: 'start' } // an optional leading space (first number only), then a number
  | { k: 'lead' } // after that leading space: a number must begin
  | { k: 'sign' } // after '-': a digit must follow
  | { k: 'int'; n: number } // n integer digits so far
  | { k: 'frac'; n: number } // after the point, n fraction digits so far
  | { k: 'sep'; n: number } // n characters of the separator matched
  | { k: 'done' };

/**
 * A list of exactly `count` numbers like "1.1023 1.1051 1.0998": optional sign, 1..maxIntDigits integer digits,
 * a point and exactly `precision` digits, separated by `separator`.
 */
export class NumericListConstraint implements TokenConstraint {
  private state: State = { k: 'start' };
  private numbers = 0;
  private readonly sep: string;
  private readonly maxInt: number;
  private readonly cache = new Map<string, Uint8Array>();
  private readonly ends: Set<number>;
  private ended = false;

  /** tokenStrings[id] is the text token id decodes to on its own. */
  constructor(
    private readonly tokenStrings: readonly string[],
    private readonly o: NumericListOptions,
  ) {
    if (!(o.count >= 1)) throw new Error(`numeric constraint: count must be >= 1, got ${o.count}`);
    if (!(o.precision >= 0)) throw new Error(`numeric constraint: precision must be >= 0, got ${o.precision}`);
    this.sep = o.separator ?? ' ';
    if (this.sep.length === 0 || /[0-9.\-]/.test(this.sep)) {
      throw new Error(`numeric constraint: separator ${JSON.stringify(this.sep)} must be non-empty and not a digit, '.' or '-'`);
    }
    this.maxInt = o.maxIntDigits ?? 8;
    this.ends = new Set(o.endTokenIds ?? []);
    if (o.precision === 0 && this.ends.size === 0) {
      throw new Error('numeric constraint: integer lists (precision 0) need endTokenIds to mark the end of the last number');
    }
  }

  done(): boolean {
    return this.state.k === 'done' && (this.ends.size === 0 || this.ended);
  }

  allowed(): Uint8Array {
    const key = `${this.state.k}:${'n' in this.state ? this.state.n : ''}:${this.numbers}`;
    let a = this.cache.get(key);
    if (a) return a;
    a = new Uint8Array(this.tokenStrings.length);
    for (let id = 0; id < this.tokenStrings.length; id++) {
      // The list is complete (or, for integers, the last number may end here): the end tokens may follow.
      const canEnd =
        this.state.k === 'done' || (this.o.precision === 0 && this.state.k === 'int' && this.numbers + 1 === this.o.count);
      if (canEnd && this.ends.has(id)) {
        a[id] = 1;
        continue;
      }
      if (this.state.k === 'done') continue;
      const s = this.tokenStrings[id]!;
      a[id] = s.length > 0 && this.run(s) !== null ? 1 : 0;
    }
    this.cache.set(key, a);
    return a;
  }

  advance(token: number): void {
    if (this.ends.has(token)) {
      this.ended = true;
      this.state = { k: 'done' };
      this.numbers = this.o.count;
      return;
    }
    const r = this.run(this.tokenStrings[token] ?? '');
    if (!r) throw new Error(`numeric constraint: token ${token} (${JSON.stringify(this.tokenStrings[token])}) is not allowed here`);
    [this.state, this.numbers] = r;
  }

  /** Feed a string from the current state; the new state, or null if the string breaks the grammar. */
  private run(s: string): [State, number] | null {
    let st: State = this.state;
    let nums = this.numbers;
    const P = this.o.precision;
    for (const ch of s) {
      const digit = ch >= '0' && ch <= '9';
      switch (st.k) {
        case 'done':
          return null;
        case 'start':
        case 'lead':
          if (ch === ' ' && st.k === 'start' && nums === 0 && (this.o.allowLeadingSpace ?? true)) {
            st = { k: 'lead' };
            break;
          }
          if (ch === '-' && this.o.allowNegative) st = { k: 'sign' };
          else if (digit) st = { k: 'int', n: 1 };
          else return null;
          break;
        case 'sign':
          if (!digit) return null;
          st = { k: 'int', n: 1 };
          break;
        case 'int':
          if (digit) {
            if (st.n >= this.maxInt) return null;
            st = { k: 'int', n: st.n + 1 };
          } else if (ch === '.' && P > 0) {
            st = { k: 'frac', n: 0 };
          } else if (P === 0 && ch === this.sep[0] && nums + 1 < this.o.count) {
            // An integer ends at its separator.
            nums++;
            st = this.sep.length === 1 ? { k: 'start' } : { k: 'sep', n: 1 };
          } else return null;
          break;
        case 'frac':
          if (!digit) return null;
          if (st.n + 1 === P) {
            nums++;
            st = nums === this.o.count ? { k: 'done' } : { k: 'sep', n: 0 };
          } else st = { k: 'frac', n: st.n + 1 };
          break;
        case 'sep':
          if (ch !== this.sep[st.n]) return null;
          st = st.n + 1 === this.sep.length ? { k: 'start' } : { k: 'sep', n: st.n + 1 };
          break;
      }
    }
    return [st, nums];
  }
}

/** Parse the numbers of a generated list; fewer than `count` parsed means a parse failure for the caller. */
export function parseNumberList(text: string, separator = ' '): number[] {
  const out: number[] = [];
  for (const part of text.split(separator)) {
    const t = part.trim();
    if (t === '') continue;
    const v = Number(t);
    if (!Number.isFinite(v) || !/^-?\d+(\.\d+)?$/.test(t)) break;
    out.push(v);
  }
  return out;
}
