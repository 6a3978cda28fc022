/**
 * Text → token documents → fixed-length packed blocks (issue 7, data part 5).
 *
 *   const { docs, counts } = tokenizeDocuments(tok, records, { loss: 'answer' });
 *   const packed = packDocuments(docs, { blockSize: 256 });          // blocks + counts
 *   const train = new PackedBlocks(packed.blocks, { batchSize: 8, seed: 1, padId });   // batching.ts
 *
 * Conventions, chosen so a packed block trains exactly what its documents would train one by one:
 *  - A document is [BOS?] tokens… EOS. BOS is added when the tokenizer's own encode adds it (Llama yes, GPT-2
 *    no); EOS always closes a document — it is the separator between packed documents and teaches the model to
 *    stop. A prompt/answer pair is encoded as one text (so the tokens are those the model reads when it is given
 *    the prompt followed by the answer — encoding the answer on its own would, with SentencePiece, add a dummy "▁"
 *    and tokens the joined text never has); the answer starts where the joined encoding leaves the prompt's own.
 *  - Labels are target-aligned (src/train/types.ts): the label at position t is the token at t+1 of the same
 *    document. The document's last token (its EOS) is kept as an input, so the separator is visible in the
 *    block, but its label is -100: what follows it belongs to another document.
 *  - With loss 'answer', a target is scored only when it is an answer token (or the closing EOS); targets inside
 *    the prompt get -100. BOS is never a target.
 *  - Documents never straddle blocks. Inside a block every document keeps its own positions (0, 1, …) and the
 *    attention mask (batching.ts) lets a token see only earlier tokens of its own document, so the per-document
 *    losses are those of the documents run alone. A document longer than the block is cut into block-sized
 *    pieces (each piece a fresh sequence from position 0; no target is lost, the last token of a piece predicts
 *    the first of the next), or dropped, or refused — by option, always counted.
 */
import { IGNORE_INDEX, type Example } from '../train/data.js';
import type { PromptAnswer } from './loaders/text.js';
import { renderChat, type ChatTemplate } from './prompts.js';

/**
 * What tokenization needs of a tokenizer. `Tokenizer` (src/io/tokenizer.ts) and the CLI's `TextCodec`
 * (src/train/cli_support.ts, which never adds special tokens) both fit.
 */
export interface DocTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): ArrayLike<number>;
  readonly eosId: number | null;
  readonly bosId?: number | null;
  readonly padId?: number | null;
}

/** One record to tokenize: plain text (every token scored) or a prompt/answer pair. `name` is used in messages. */
export type DocumentInput = string | { text: string; name?: string } | { prompt: string; answer: string; name?: string };

export interface TokenizeOptions {
  /** 'all' (default): every target is scored. 'answer': for prompt/answer records only answer targets are. */
  loss?: 'all' | 'answer';
  /** Start each document with BOS. Default: whatever the tokenizer's own `encode` does (needs a bosId). */
  bos?: boolean;
  /** The separator when the tokenizer declares no EOS (a byte-level codec, say). */
  eosId?: number;
}

/** A tokenized document: `ids` include BOS/EOS; targets `ids[i]` with i ≥ firstTarget are scored. */
export interface TokenizedDoc {
  ids: Int32Array;
  /** Index of the first scored target: 1 with loss 'all' (BOS or not, position 0 is never a target), else the answer's start. */
  firstTarget: number;
  /** The record's name for messages ("file.jsonl:12", or "example 3" by its index in the input). */
  name: string;
  /** Prompt tokens (BOS included) for prompt/answer records; 0 for plain text. */
  promptLength: number;
}

export interface TokenizeCounts {
  documents: number;
  /** All tokens, BOS and EOS included. */
  tokens: number;
  /** Targets that will carry a loss (tokens − one per document − unscored prompt targets). */
  scoredTargets: number;
  /** Prompt tokens of prompt/answer records (BOS included). */
  promptTokens: number;
  /** Pairs whose last prompt token merged with the answer's first when encoded together (that token is scored). */
  boundaryMerges: number;
}

/** Whether the tokenizer's default encode puts BOS first (transformers' add_special_tokens=True behaviour). */
export function addsBos(tok: DocTokenizer): boolean {
  const bos = tok.bosId;
  if (bos === null || bos === undefined) return false;
  // Compare a short text with and without special tokens: BOS is added when the special encoding is the plain
  // one with the BOS id in front. Looking only at the first id would be fooled where BOS = EOS (GPT-2's
  // <|endoftext|>) and the post-processor appends EOS to an empty encoding. A text the vocabulary cannot encode
  // (an error, or nothing) says nothing, so a few are tried.
  for (const text of ['a', '0', ' ', '.']) {
    let withSpecial: ArrayLike<number>, plain: ArrayLike<number>;
    try {
      withSpecial = tok.encode(text);
      plain = tok.encode(text, { addSpecialTokens: false });
    } catch {
      continue;
    }
    if (plain.length === 0) continue;
    return withSpecial.length > plain.length && withSpecial[0] === bos && withSpecial[1] === plain[0];
  }
  return false;
}

function checkString(v: unknown, name: string, field: string): string {
  if (typeof v !== 'string') throw new Error(`${name}: "${field}" must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

/** Special tokens are ours to add (BOS/EOS below), never the post-processor's. */
function encodePlain(tok: DocTokenizer, text: string): number[] {
  return Array.from(tok.encode(text, { addSpecialTokens: false }));
}

/**
 * Rows of `loadPromptAnswers(file)` as named inputs ("file:line" in every message). A row's system prompt needs
 * a chat template to go anywhere, so a row carrying one without `chatTemplate` is an error rather than a
 * system prompt silently left out.
 */
export function promptAnswerInputs(file: string, rows: readonly PromptAnswer[], opts: { chatTemplate?: ChatTemplate } = {}): DocumentInput[] {
  return rows.map((r) => {
    const name = `${file}:${r.line}`;
    if (opts.chatTemplate) return { prompt: renderChat(r.system ?? '', r.prompt, opts.chatTemplate), answer: r.answer, name };
    if (r.system !== undefined) throw new Error(`${name}: the record has a system prompt; choose a chat template (chatTemplate 'llama2' or 'plain') to render it`);
    return { prompt: r.prompt, answer: r.answer, name };
  });
}

/**
 * Tokenizes records into documents ready for `packDocuments` (or `documentExample` for unpacked batches).
 * Counts are exact: `tokens` is the sum of every document's length.
 */
export function tokenizeDocuments(tok: DocTokenizer, records: readonly DocumentInput[], opts: TokenizeOptions = {}): { docs: TokenizedDoc[]; counts: TokenizeCounts } {
  const loss = opts.loss ?? 'all';
  if (loss !== 'all' && loss !== 'answer') throw new Error(`tokenizeDocuments: loss must be 'all' or 'answer', got ${JSON.stringify(loss)}`);
  const eos = tok.eosId ?? opts.eosId ?? null;
  if (eos === null) {
    throw new Error('tokenizeDocuments: the tokenizer declares no EOS token and no eosId option was given; packed documents need a separator');
  }
  const bos = opts.bos ?? addsBos(tok);
  if (bos && (tok.bosId === null || tok.bosId === undefined)) throw new Error('tokenizeDocuments: bos is true but the tokenizer declares no BOS token');
  const head = bos ? [tok.bosId as number] : [];
  const docs: TokenizedDoc[] = [];
  const counts: TokenizeCounts = { documents: 0, tokens: 0, scoredTargets: 0, promptTokens: 0, boundaryMerges: 0 };
  records.forEach((r, i) => {
    const fallback = `example ${i}`;
    let name = fallback;
    let ids: number[];
    let promptLength = 0;
    if (typeof r === 'string') {
      ids = [...head, ...encodePlain(tok, r), eos];
    } else if (r && typeof r === 'object' && 'prompt' in r) {
      name = r.name ?? fallback;
      const promptText = checkString(r.prompt, name, 'prompt');
      const answerText = checkString(r.answer, name, 'answer');
      const prompt = encodePlain(tok, promptText);
      const joined = encodePlain(tok, promptText + answerText);
      // The prompt's tokens are the common prefix; a token merged across the boundary counts as the answer's.
      let k = 0;
      while (k < prompt.length && k < joined.length && prompt[k] === joined[k]) k++;
      if (k < prompt.length) counts.boundaryMerges++;
      if (joined.length === k) throw new Error(`${name}: the answer is empty, nothing to learn`);
      promptLength = head.length + k;
      ids = [...head, ...joined, eos];
    } else if (r && typeof r === 'object' && 'text' in r) {
      name = r.name ?? fallback;
      ids = [...head, ...encodePlain(tok, checkString(r.text, name, 'text')), eos];
    } else {
      throw new Error(`${fallback}: expected a string, {text} or {prompt, answer}`);
    }
    // Empty text with BOS still teaches BOS → EOS; without BOS it would be a lone EOS, which predicts nothing.
    if (ids.length < 2) throw new Error(`${name}: the document is empty (${ids.length} token)`);
    const firstTarget = loss === 'answer' && promptLength > 0 ? promptLength : 1;
    docs.push({ ids: Int32Array.from(ids), firstTarget, name, promptLength });
    counts.documents++;
    counts.tokens += ids.length;
    counts.scoredTargets += ids.length - firstTarget;
    counts.promptTokens += promptLength;
  });
  return { docs, counts };
}

/** A document as one unpacked example (inputs without the final EOS, target-aligned labels), for `padBatch`. */
export function documentExample(doc: TokenizedDoc): Example {
  const n = doc.ids.length;
  const inputIds = doc.ids.slice(0, n - 1);
  const labels = doc.ids.slice(1);
  // labels[t] is the target ids[t + 1].
  for (let t = 0; t + 1 < doc.firstTarget; t++) labels[t] = IGNORE_INDEX;
  return { inputIds, labels };
}

// ---- packing --------------------------------------------------------------------------------------------------

export interface PackOptions {
  /** Tokens per block: the sequence length the model is trained on (at most its context). */
  blockSize: number;
  /** A document longer than blockSize: 'split' into pieces (default), 'drop' it, or 'error'. */
  overflow?: 'split' | 'drop' | 'error';
  /**
   * 'best-fit' (default): longest pieces first, each into the fullest block it fits — the fewest blocks, order
   * not kept. 'in-order': pieces in the given order, a new block when the next one does not fit.
   */
  strategy?: 'best-fit' | 'in-order';
}

/** Where a piece of a document sits in a block. */
export interface Segment {
  /** Index of the document in the list given to packDocuments. */
  doc: number;
  /** First token of the piece within the document. */
  start: number;
  length: number;
  /** First token of the piece within the block. */
  offset: number;
}

/** A packed block, unpadded (length ≤ blockSize); padding happens when blocks are batched. */
export interface PackedBlock {
  inputIds: Int32Array;
  /** Target-aligned, -100 where nothing is scored. */
  labels: Int32Array;
  /** Restart at 0 for every segment, so they also say where each token's document begins (the mask uses that). */
  positionIds: Int32Array;
  /** The document pieces, in block order; tokens attend only within their own. */
  segments: Segment[];
  /** Labels other than -100. */
  scored: number;
}

export interface PackCounts {
  documents: number;
  /** Documents longer than blockSize that were cut. */
  split: number;
  /** Pieces the split documents became. */
  splitPieces: number;
  /** Documents left out (overflow 'drop'), and their names. */
  dropped: number;
  droppedNames: string[];
  blocks: number;
  /** Real tokens in the blocks. */
  tokens: number;
  /** Scored labels in the blocks. */
  scoredTargets: number;
  /** blockSize · blocks − tokens: what padding every block to blockSize would add. */
  paddingTokens: number;
  /** tokens / (blockSize · blocks). */
  fill: number;
}

interface Piece {
  doc: number;
  start: number;
  length: number;
}

function checkBlockSize(L: unknown): number {
  if (typeof L !== 'number' || !Number.isSafeInteger(L) || L < 2) throw new Error(`packDocuments: blockSize must be an integer ≥ 2, got ${String(L)}`);
  return L;
}

/**
 * Cuts the documents into pieces of at most blockSize tokens (or drops/refuses the long ones) and packs the
 * pieces into blocks. Deterministic: the same documents and options give the same blocks.
 */
export function packDocuments(docs: readonly TokenizedDoc[], opts: PackOptions): { blocks: PackedBlock[]; counts: PackCounts } {
  const L = checkBlockSize(opts.blockSize);
  const overflow = opts.overflow ?? 'split';
  const strategy = opts.strategy ?? 'best-fit';
  if (!['split', 'drop', 'error'].includes(overflow)) throw new Error(`packDocuments: overflow must be 'split', 'drop' or 'error', got ${JSON.stringify(overflow)}`);
  if (!['best-fit', 'in-order'].includes(strategy)) throw new Error(`packDocuments: strategy must be 'best-fit' or 'in-order', got ${JSON.stringify(strategy)}`);
  const counts: PackCounts = { documents: docs.length, split: 0, splitPieces: 0, dropped: 0, droppedNames: [], blocks: 0, tokens: 0, scoredTargets: 0, paddingTokens: 0, fill: 0 };

  const pieces: Piece[] = [];
  docs.forEach((d, i) => {
    const n = d.ids.length;
    // The prompt must leave room for the answer in one block, whatever the loss and overflow rule: cut off from
    // its prompt, an answer teaches nothing the task asks for.
    if (d.promptLength >= L) {
      throw new Error(
        `${d.name}: the prompt is ${d.promptLength} tokens, which leaves no room for the answer in blockSize ${L} (the context); ` +
          'shorten the prompt or raise blockSize',
      );
    }
    if (n <= L) {
      pieces.push({ doc: i, start: 0, length: n });
      return;
    }
    if (overflow === 'error') {
      throw new Error(`${d.name}: the document is ${n} tokens, longer than blockSize ${L} (the context); shorten it, raise blockSize, or pack with overflow 'split' or 'drop'`);
    }
    if (overflow === 'drop') {
      counts.dropped++;
      counts.droppedNames.push(d.name);
      return;
    }
    let made = 0;
    for (let s = 0; s < n; s += L) {
      const len = Math.min(L, n - s);
      // A last piece holding only the closing EOS has no target (its own target was scored at the end of the
      // previous piece): nothing to train on, so it is not kept.
      if (s + 1 >= n) break;
      pieces.push({ doc: i, start: s, length: len });
      made++;
    }
    counts.split++;
    counts.splitPieces += made;
  });

  const members: Piece[][] = strategy === 'best-fit' ? bestFit(pieces, L) : inOrder(pieces, L);
  // All blocks are views of three shared arrays: tens of thousands of small typed arrays cost far more in
  // allocation and garbage collection than the copying itself.
  let total = 0;
  for (const p of pieces) total += p.length;
  const store: Store = { inputIds: new Int32Array(total), labels: new Int32Array(total).fill(IGNORE_INDEX), positionIds: new Int32Array(total), used: 0 };
  const blocks = members.map((m) => buildBlock(docs, m, store));
  counts.blocks = blocks.length;
  for (const b of blocks) {
    counts.tokens += b.inputIds.length;
    counts.scoredTargets += b.scored;
  }
  counts.paddingTokens = L * blocks.length - counts.tokens;
  counts.fill = blocks.length ? counts.tokens / (L * blocks.length) : 0;
  return { blocks, counts };
}

/** Next-fit: keeps the order; a block is closed when the next piece does not fit. */
function inOrder(pieces: Piece[], L: number): Piece[][] {
  const out: Piece[][] = [];
  let cur: Piece[] = [];
  let used = 0;
  for (const p of pieces) {
    if (used + p.length > L) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(p);
    used += p.length;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Best-fit decreasing. Blocks are kept in buckets by their free space, so finding the fullest block a piece fits
 * in is a scan over at most blockSize bucket heads, not over every block.
 */
function bestFit(pieces: Piece[], L: number): Piece[][] {
  // Longest first; equal lengths keep their input order (a stable sort), so the result is deterministic.
  const order = pieces.map((_, i) => i).sort((a, b) => pieces[b]!.length - pieces[a]!.length || a - b);
  const blocks: Piece[][] = [];
  const free: number[] = [];
  const buckets: number[][] = Array.from({ length: L + 1 }, () => []);
  for (const i of order) {
    const p = pieces[i]!;
    let target = -1;
    for (let r = p.length; r <= L; r++) {
      const bucket = buckets[r]!;
      if (bucket.length) {
        // The oldest block with that much room: ties resolved the same way every run.
        target = bucket.shift()!;
        break;
      }
    }
    if (target < 0) {
      target = blocks.length;
      blocks.push([]);
      free.push(L);
    }
    blocks[target]!.push(p);
    free[target]! -= p.length;
    if (free[target]! > 0) insertSorted(buckets[free[target]!]!, target);
  }
  return blocks;
}

function insertSorted(a: number[], v: number): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > v) i--;
  a.splice(i, 0, v);
}

interface Store {
  inputIds: Int32Array;
  labels: Int32Array;
  positionIds: Int32Array;
  used: number;
}

function buildBlock(docs: readonly TokenizedDoc[], members: Piece[], store: Store): PackedBlock {
  let T = 0;
  for (const p of members) T += p.length;
  const at = store.used;
  store.used += T;
  const inputIds = store.inputIds.subarray(at, at + T);
  const labels = store.labels.subarray(at, at + T);
  const positionIds = store.positionIds.subarray(at, at + T);
  const segments: Segment[] = [];
  let off = 0;
  let scored = 0;
  for (const p of members) {
    const d = docs[p.doc]!;
    const ids = d.ids;
    // Plain loops rather than set(subarray(…)): a view object per piece costs more than copying a short piece.
    for (let t = 0; t < p.length; t++) {
      inputIds[off + t] = ids[p.start + t]!;
      positionIds[off + t] = t;
    }
    // Position t predicts the document's token p.start + t + 1: scored when it exists and is not in the prompt.
    const from = Math.max(0, d.firstTarget - p.start - 1);
    const to = Math.min(p.length, ids.length - p.start - 1);
    for (let t = from; t < to; t++) labels[off + t] = ids[p.start + t + 1]!;
    if (to > from) scored += to - from;
    segments.push({ doc: p.doc, start: p.start, length: p.length, offset: off });
    off += p.length;
  }
  return { inputIds, labels, positionIds, segments, scored };
}
