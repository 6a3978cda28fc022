/**
 * FinGPT-Forecaster-style weekly prompts from StockNet (prices, tweets, StockTable).
 *
 * The prompt follows the Forecaster's layout field by field:
 *   [Company Introduction]  built from StockTable (company name, sector, ticker; StockNet has nothing more);
 *   one block per past week  "From {start} to {end}, {ticker}'s stock price went up/down from {p0} to {p1}."
 *                           followed by that week's tweets as `[Headline]: …` items (deduplicated, capped);
 *   [Basic Financials]       omitted, with a note saying the data set has none;
 *   a closing instruction    asking for positive developments, concerns and next week's prediction.
 * Weeks run Monday..Sunday; a week's price is its last trading day's Adj Close, and `start`/`end` are the
 * trading dates of the two prices compared.
 *
 * The target is next week's Adj Close return in the Forecaster's bins (`returnBin`).
 *
 * The answer is a SYNTHETIC REFERENCE, not an analyst's text: no sentiment classifier trained on the labelled
 * finance tweets exists yet, so the answer's sections come from a documented deterministic rule with a pluggable
 * scorer (`lexiconScorer` for now):
 *   [Positive Developments]: up to 4 prompt tweets with the highest score > 0, best first;
 *   [Potential Concerns]:    up to 4 prompt tweets with the lowest score < 0, worst first;
 *   [Prediction & Analysis]: the realized bin, and a templated analysis naming the past weeks' move, the balance
 *                            of scored tweets and the realized move.
 * Every record carries `synthetic: true` and the rule's name so reports can say so.
 */
import { createRng } from '../tensor/rng.js';
import type { OhlcvSeries } from './loaders/ohlcv.js';
import type { StockTableRow, Tweet } from './loaders/stocknet.js';
import { DAY_MS, formatDate, parseTime } from './time.js';

/** FinGPT-Forecaster's bins: the sign, then ceil(|100·return|) capped as "more than 5 %". A zero return is "up by 0-1%". */
export function returnBin(ret: number): { direction: 'up' | 'down'; bin: 1 | 2 | 3 | 4 | 5 | '5+'; label: string } {
  if (!Number.isFinite(ret)) throw new Error(`returnBin: return must be finite, got ${ret}`);
  const direction = ret >= 0 ? 'up' : 'down';
  // Rounded to 1e-9 first so that 0.03 (which is 3.0000000000000004 % in binary) lands in "2-3%".
  const pct = Math.round(Math.abs(ret) * 100 * 1e9) / 1e9;
  const k = Math.max(1, Math.ceil(pct));
  if (k > 5) return { direction, bin: '5+', label: `${direction} by more than 5%` };
  return { direction, bin: k as 1 | 2 | 3 | 4 | 5, label: `${direction} by ${k - 1}-${k}%` };
}

export interface SentimentScorer {
  name: string;
  /** > 0 bullish, < 0 bearish, 0 neutral. */
  score(text: string): number;
}

const BULLISH = [
  'up', 'buy', 'buying', 'bought', 'bull', 'bullish', 'long', 'calls', 'beat', 'beats', 'gain', 'gains', 'rally', 'rallies', 'higher',
  'breakout', 'upgrade', 'upgraded', 'upgrades', 'strong', 'strength', 'growth', 'record', 'surge', 'surges', 'soar', 'soars', 'jump', 'jumps',
  'rise', 'rises', 'rising', 'profit', 'profits', 'outperform', 'positive', 'green', 'boost', 'boosts', 'raised', 'raises', 'win', 'wins',
];
const BEARISH = [
  'down', 'sell', 'selling', 'sold', 'bear', 'bearish', 'short', 'puts', 'miss', 'misses', 'missed', 'loss', 'losses', 'drop', 'drops',
  'fall', 'falls', 'falling', 'lower', 'downgrade', 'downgraded', 'downgrades', 'weak', 'weakness', 'decline', 'declines', 'plunge',
  'plunges', 'crash', 'cut', 'cuts', 'negative', 'red', 'lawsuit', 'probe', 'warning', 'warns', 'risk', 'slump', 'slumps', 'tumble', 'tumbles',
];
const NEGATIONS = new Set(['not', 'no', "n't", 'never', 'without']);

/**
 * A placeholder scorer: +1 per bullish word, −1 per bearish word, sign flipped for a word right after a
 * negation. Crude on purpose; it only orders tweets until a trained classifier replaces it.
 */
export const lexiconScorer: SentimentScorer = {
  name: 'lexicon-v1',
  score(text: string): number {
    const words = text.toLowerCase().split(/[^a-z']+/).filter(Boolean);
    let s = 0;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const sign = i > 0 && NEGATIONS.has(words[i - 1]!) ? -1 : 1;
      if (BULLISH.includes(w)) s += sign;
      else if (BEARISH.includes(w)) s -= sign;
    }
    return s;
  },
};

/** The system prompt (our wording, to the Forecaster's effect). */
export const FORECASTER_SYSTEM_PROMPT =
  'You are an experienced equity analyst. From the company information, the recent weekly price moves and the related posts you are given, ' +
  'list the main positive developments and the main potential concerns for the company, then predict how its stock price will move over the ' +
  'coming week and explain why. Answer in exactly this format:\n\n[Positive Developments]:\n1. ...\n\n[Potential Concerns]:\n1. ...\n\n' +
  '[Prediction & Analysis]:\nPrediction: ...\nAnalysis: ...\n';

export type ChatTemplate = 'llama2' | 'plain';

/** Renders a system + user turn in a chat template; the answer follows the returned prompt directly. */
export function renderChat(system: string, user: string, template: ChatTemplate = 'llama2'): string {
  if (template === 'llama2') return `[INST] <<SYS>>\n${system}\n<</SYS>>\n\n${user} [/INST] `;
  return `### System:\n${system}\n\n### User:\n${user}\n\n### Assistant:\n`;
}

export interface Week {
  /** Monday of the week (ms). */
  monday: number;
  /** Index (in the price series) of the week's last trading day. */
  lastIndex: number;
}

/** Monday 00:00 UTC of the week holding `t`. */
export function mondayOf(t: number): number {
  const day = Math.floor(t / DAY_MS);
  // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
  return (day - ((day + 3) % 7)) * DAY_MS;
}

export function tradingWeeks(time: ArrayLike<number>): Week[] {
  const weeks: Week[] = [];
  for (let i = 0; i < time.length; i++) {
    const m = mondayOf(time[i]!);
    const last = weeks[weeks.length - 1];
    if (last && last.monday === m) last.lastIndex = i;
    else weeks.push({ monday: m, lastIndex: i });
  }
  return weeks;
}

/** Tweets compared loosely for deduplication: retweet markers, user and URL placeholders and spacing removed. */
export function tweetKey(text: string): string {
  return text
    .toLowerCase()
    .replace(/\b(rt|at_user|url)\b/g, ' ')
    .replace(/[^a-z0-9$%.]+/g, ' ')
    .trim();
}

export interface ForecasterOptions {
  /** Past weeks shown (default 3, as the Forecaster's maximum); fewer at the start of the data. */
  pastWeeks?: number;
  /** Minimum past weeks for an example (default 1). */
  minPastWeeks?: number;
  /** Tweets kept per week after deduplication (default 5); chosen with `seed`, shown in time order. */
  tweetsPerWeek?: number;
  seed?: number;
  /** Length budget of the rendered prompt, in tokens of `countTokens` (default: no limit). */
  maxPromptTokens?: number;
  /** Default: characters / 4, a rough stand-in until the model's tokenizer is passed. */
  countTokens?: (text: string) => number;
  scorer?: SentimentScorer;
  template?: ChatTemplate;
  /** Only target weeks whose two prices lie in [from, to) (YYYY-MM-DD). */
  from?: string;
  to?: string;
}

export interface ForecasterExample {
  ticker: string;
  /** Trading dates of the two prices of the target week. */
  start: string;
  end: string;
  startPrice: number;
  endPrice: number;
  return: number;
  label: string;
  system: string;
  /** The user turn without the chat template. */
  user: string;
  /** system + user in the chat template: what the model is given. */
  prompt: string;
  answer: string;
  tweetsShown: number;
  tweetsDroppedForLength: number;
  synthetic: true;
  answerRule: string;
}

export interface ForecasterCounts {
  examples: number;
  /** Prompts that lost tweets (oldest first) to fit maxPromptTokens. */
  shortened: number;
  /** Examples that did not fit even without any tweet. */
  droppedTooLong: number;
  /** Target weeks skipped for lack of past weeks or outside [from, to). */
  skipped: number;
}

const money = (x: number): string => x.toFixed(2);

function companyIntro(ticker: string, info: StockTableRow | undefined): string {
  if (!info) return `[Company Introduction]:\n\n${ticker} is a publicly traded company; StockNet's StockTable has no entry for it.`;
  return `[Company Introduction]:\n\n${info.company} is a company in the ${info.sector} sector, traded under the ticker ${ticker}. It is one of the stocks followed by the StockNet data set.`;
}

function moveSentence(ticker: string, start: string, end: string, p0: number, p1: number): string {
  return `From ${start} to ${end}, ${ticker}'s stock price went ${p1 >= p0 ? 'up' : 'down'} from ${money(p0)} to ${money(p1)}.`;
}

const FINANCIALS_NOTE = '[Basic Financials]:\n\nNo basic financials are reported: the StockNet data set holds prices and tweets only.';

function closing(ticker: string, start: string, end: string): string {
  return (
    `Based on all the information up to ${start}, first analyze the positive developments and the potential concerns for ${ticker}: ` +
    `name the 2-4 most important factors of each, briefly, mostly inferred from the company-related posts. Then predict ${ticker}'s ` +
    `stock price movement for next week (${start} to ${end}) and give a summary analysis supporting the prediction.`
  );
}

interface WeekBlock {
  head: string;
  tweets: { date: number; text: string }[];
}

function renderUser(intro: string, blocks: WeekBlock[], close: string): string {
  const body = blocks
    .map((b) => `${b.head} Posts during this period are listed below:\n\n${b.tweets.length ? b.tweets.map((t) => `[Headline]: ${t.text}`).join('\n') : 'No relevant posts reported.'}`)
    .join('\n\n');
  return `${intro}\n\n${body}\n\n${FINANCIALS_NOTE}\n\n${close}`;
}

function answerFor(ticker: string, blocks: WeekBlock[], scorer: SentimentScorer, pastMove: { p0: number; p1: number; weeks: number }, target: { p0: number; p1: number; label: string }): string {
  const scored = blocks.flatMap((b) => b.tweets).map((t) => ({ text: t.text, s: scorer.score(t.text) }));
  const pos = scored.filter((x) => x.s > 0).sort((a, b) => b.s - a.s).slice(0, 4);
  const neg = scored.filter((x) => x.s < 0).sort((a, b) => a.s - b.s).slice(0, 4);
  const list = (xs: { text: string }[], none: string): string => (xs.length ? xs.map((x, i) => `${i + 1}. ${x.text}`).join('\n') : `1. ${none}`);
  const pastRet = pastMove.p1 / pastMove.p0 - 1;
  const realized = target.p1 / target.p0 - 1;
  const lean = pos.length > neg.length ? 'lean positive' : neg.length > pos.length ? 'lean negative' : 'are balanced';
  const analysis =
    `Over the past ${pastMove.weeks} week${pastMove.weeks === 1 ? '' : 's'} ${ticker} moved ${pastRet >= 0 ? 'up' : 'down'} ${(Math.abs(pastRet) * 100).toFixed(2)}% ` +
    `(${money(pastMove.p0)} to ${money(pastMove.p1)}). The posts ${lean} (${scored.filter((x) => x.s > 0).length} positive, ${scored.filter((x) => x.s < 0).length} negative ` +
    `of ${scored.length} by the ${scorer.name} scorer). The realized move the following week was ${realized >= 0 ? 'up' : 'down'} ${(Math.abs(realized) * 100).toFixed(2)}% ` +
    `(${money(target.p0)} to ${money(target.p1)}), in the "${target.label}" bin.`;
  const cap = target.label.charAt(0).toUpperCase() + target.label.slice(1);
  return (
    `[Positive Developments]:\n${list(pos, 'No clearly positive development in the posts of the period.')}\n\n` +
    `[Potential Concerns]:\n${list(neg, 'No clearly negative development in the posts of the period.')}\n\n` +
    `[Prediction & Analysis]:\nPrediction: ${cap}\nAnalysis: ${analysis}`
  );
}

/** Weekly Forecaster examples for one ticker. Tweets must be sorted by date. */
export function forecasterExamples(ticker: string, prices: OhlcvSeries, tweets: Tweet[], info: StockTableRow | undefined, options: ForecasterOptions = {}): { examples: ForecasterExample[]; counts: ForecasterCounts } {
  const adj = prices.adjClose ?? prices.close;
  const pastWeeks = options.pastWeeks ?? 3;
  const minPast = options.minPastWeeks ?? 1;
  const cap = options.tweetsPerWeek ?? 5;
  const scorer = options.scorer ?? lexiconScorer;
  const countTokens = options.countTokens ?? ((t: string) => Math.ceil(t.length / 4));
  const template = options.template ?? 'llama2';
  for (const [name, v, min] of [['pastWeeks', pastWeeks, 1], ['minPastWeeks', minPast, 1], ['tweetsPerWeek', cap, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  }
  if (minPast > pastWeeks) throw new Error(`minPastWeeks (${minPast}) must not exceed pastWeeks (${pastWeeks})`);
  const from = options.from === undefined ? -Infinity : parseTime(options.from, 'iso');
  const to = options.to === undefined ? Infinity : parseTime(options.to, 'iso');
  if (Number.isNaN(from)) throw new Error(`from: ${JSON.stringify(options.from)} is not a date (YYYY-MM-DD)`);
  if (Number.isNaN(to)) throw new Error(`to: ${JSON.stringify(options.to)} is not a date (YYYY-MM-DD)`);
  const weeks = tradingWeeks(prices.time);
  const intro = companyIntro(ticker, info);
  const counts: ForecasterCounts = { examples: 0, shortened: 0, droppedTooLong: 0, skipped: 0 };
  const examples: ForecasterExample[] = [];

  // Tweets of each week, deduplicated, then `cap` of them chosen reproducibly and shown in time order. Memoized
  // (a week appears in up to pastWeeks prompts); callers get a copy because shortening edits the list.
  const memo = new Map<number, { date: number; text: string }[]>();
  const weekTweets = (w: number): { date: number; text: string }[] => {
    let chosen = memo.get(w);
    if (!chosen) {
      chosen = chooseWeekTweets(w);
      memo.set(w, chosen);
    }
    return chosen.slice();
  };
  const chooseWeekTweets = (w: number): { date: number; text: string }[] => {
    const monday = weeks[w]!.monday;
    const seen = new Set<string>();
    const unique: { date: number; text: string }[] = [];
    for (const t of tweets) {
      if (t.date < monday || t.date >= monday + 7 * DAY_MS) continue;
      const key = tweetKey(t.text);
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      unique.push({ date: t.date, text: t.text });
    }
    if (unique.length <= cap) return unique;
    const perm = createRng(options.seed ?? 0, `forecaster/${ticker}/${formatDate(monday)}`).permutation(unique.length);
    return Array.from(perm.subarray(0, cap)).sort((a, b) => a - b).map((i) => unique[i]!);
  };

  for (let w = 1; w < weeks.length; w++) {
    const i0 = weeks[w - 1]!.lastIndex;
    const i1 = weeks[w]!.lastIndex;
    const nPast = Math.min(pastWeeks, w - 1);
    if (nPast < minPast || prices.time[i0]! < from || prices.time[i1]! >= to) {
      counts.skipped++;
      continue;
    }
    const start = formatDate(prices.time[i0]!);
    const end = formatDate(prices.time[i1]!);
    const blocks: WeekBlock[] = [];
    for (let k = w - nPast; k < w; k++) {
      const a = weeks[k - 1]!.lastIndex;
      const b = weeks[k]!.lastIndex;
      blocks.push({ head: moveSentence(ticker, formatDate(prices.time[a]!), formatDate(prices.time[b]!), adj[a]!, adj[b]!), tweets: weekTweets(k) });
    }
    const ret = adj[i1]! / adj[i0]! - 1;
    const bin = returnBin(ret);
    const close = closing(ticker, start, end);
    // The answer is written from the tweets that end up in the prompt, so it is built after any shortening.
    let dropped = 0;
    let user = renderUser(intro, blocks, close);
    let prompt = renderChat(FORECASTER_SYSTEM_PROMPT, user, template);
    if (options.maxPromptTokens !== undefined) {
      while (countTokens(prompt) > options.maxPromptTokens) {
        // Oldest tweet first: the earliest week that still has one loses its first tweet.
        const b = blocks.find((x) => x.tweets.length > 0);
        if (!b) break;
        b.tweets.shift();
        dropped++;
        user = renderUser(intro, blocks, close);
        prompt = renderChat(FORECASTER_SYSTEM_PROMPT, user, template);
      }
      if (countTokens(prompt) > options.maxPromptTokens) {
        counts.droppedTooLong++;
        continue;
      }
      if (dropped > 0) counts.shortened++;
    }
    const firstPast = weeks[w - nPast - 1]!.lastIndex;
    const answer = answerFor(ticker, blocks, scorer, { p0: adj[firstPast]!, p1: adj[i0]!, weeks: nPast }, { p0: adj[i0]!, p1: adj[i1]!, label: bin.label });
    examples.push({
      ticker,
      start,
      end,
      startPrice: adj[i0]!,
      endPrice: adj[i1]!,
      return: ret,
      label: bin.label,
      system: FORECASTER_SYSTEM_PROMPT,
      user,
      prompt,
      answer,
      tweetsShown: blocks.reduce((a, b) => a + b.tweets.length, 0),
      tweetsDroppedForLength: dropped,
      synthetic: true,
      answerRule: `top/bottom-4 posts by ${scorer.name}; templated analysis of the realized move`,
    });
    counts.examples++;
  }
  return { examples, counts };
}
