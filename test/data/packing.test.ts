import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer, saveNumericTokenizer, type Tokenizer } from '../../src/io/tokenizer.js';
import { addsBos, documentExample, packDocuments, promptAnswerInputs, tokenizeDocuments, type DocumentInput, type TokenizedDoc } from '../../src/data/packing.js';
import { blockBatch, blocksFingerprint, PackedBlocks, packedEvalBatches } from '../../src/data/batching.js';
import { IGNORE_INDEX, padBatch, ShuffledExamples } from '../../src/train/data.js';
import { loadPromptAnswers } from '../../src/data/loaders/text.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Llama } from '../../src/models/llama.js';
import type { CausalLM } from '../../src/models/common.js';
import { crossEntropy } from '../../src/tensor/nn_ops.js';
import { fromArray, noGrad, tidy } from '../../src/tensor/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { gpt2Files, llama2StyleTokenizerJson, removeDir, writeTokenizerDir } from '../io/tokenizer_fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

/** The numeric tokenizer: one token per character; <|endoftext|> = 0 is both BOS and EOS (not added), <|pad|> = 1. */
function numericTokenizer(): Tokenizer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-pack-'));
  dirs.push(dir);
  saveNumericTokenizer(dir);
  return loadTokenizer(dir);
}

const tok = numericTokenizer();
const EOS = tok.eosId!;
const PAD = tok.padId!;
const ids = (s: string): number[] => tok.encode(s, { addSpecialTokens: false });

/** Plain number text of a given character length, varied by i. */
function numbers(len: number, i: number): string {
  let s = '';
  for (let k = 0; s.length < len; k++) s += String((i * 7 + k * 3) % 10) + (k % 4 === 3 ? ' ' : '.');
  return s.slice(0, len);
}

describe('tokenizeDocuments', () => {
  it('adds EOS, no BOS for a GPT-2-style tokenizer, and counts every token', () => {
    expect([EOS, PAD, tok.bosId]).toEqual([0, 1, 0]);
    expect(addsBos(tok)).toBe(false);
    const { docs, counts } = tokenizeDocuments(tok, ['1.5 2.5', { prompt: '1 2 3', answer: ' 4', name: 'pa.jsonl:2' }]);
    expect(Array.from(docs[0]!.ids)).toEqual([...ids('1.5 2.5'), EOS]);
    expect(Array.from(docs[1]!.ids)).toEqual([...ids('1 2 3'), ...ids(' 4'), EOS]);
    expect(docs.map((d) => d.name)).toEqual(['example 0', 'pa.jsonl:2']);
    // 7 + 1 and 5 + 2 + 1 tokens; with loss 'all' every token but the first of each document is a target.
    expect(counts).toEqual({ documents: 2, tokens: 16, scoredTargets: 14, promptTokens: 5, boundaryMerges: 0 });
  });

  it("loss 'answer': prompt targets are -100, the answer and the closing EOS are scored", () => {
    const { docs, counts } = tokenizeDocuments(tok, [{ prompt: '1 2 3', answer: ' 4' }, '7.0'], { loss: 'answer' });
    expect(counts.scoredTargets).toBe(3 + 3); // ' ', '4', EOS; plain text keeps all of its 3 targets
    const ex = documentExample(docs[0]!);
    expect(Array.from(ex.inputIds)).toEqual(ids('1 2 3 4'));
    expect(Array.from(ex.labels)).toEqual([-100, -100, -100, -100, ...ids(' 4'), EOS]);
    expect(Array.from(documentExample(docs[1]!).labels)).toEqual([...ids('.0'), EOS]);
  });

  it('adds BOS when the tokenizer does (Llama-2 style) and counts it in the prompt', () => {
    const dir = writeTokenizerDir({
      'tokenizer.json': llama2StyleTokenizerJson(),
      'tokenizer_config.json': { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true },
    });
    dirs.push(dir);
    const llama = loadTokenizer(dir);
    expect(addsBos(llama)).toBe(true);
    // The pair is encoded as one text: the answer gets no second dummy "▁" of its own.
    const body = llama.encode('hello world', { addSpecialTokens: false });
    const { docs, counts } = tokenizeDocuments(llama, [{ prompt: 'hello', answer: ' world' }], { loss: 'answer' });
    const d = docs[0]!;
    expect(Array.from(d.ids)).toEqual([1, ...body, 2]);
    expect(d.promptLength).toBe(1 + llama.encode('hello', { addSpecialTokens: false }).length);
    expect(counts.boundaryMerges).toBe(0);
    expect(Array.from(documentExample(d).labels)).toEqual([IGNORE_INDEX, ...body.slice(1), 2]);
    expect(tokenizeDocuments(llama, ['hello'], { bos: false }).docs[0]!.ids[0]).not.toBe(1);
    // A tokenizer that also appends EOS itself: still one BOS and one EOS per document.
    const eosToo = writeTokenizerDir({
      'tokenizer.json': llama2StyleTokenizerJson(),
      'tokenizer_config.json': { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: true },
    });
    dirs.push(eosToo);
    expect(Array.from(tokenizeDocuments(loadTokenizer(eosToo), ['hello world']).docs[0]!.ids)).toEqual([1, ...body, 2]);
    // GPT-2's files: BOS = EOS = <|endoftext|>, never added by encode.
    const gpt2Dir = writeTokenizerDir(gpt2Files());
    dirs.push(gpt2Dir);
    const gpt2 = loadTokenizer(gpt2Dir);
    expect(gpt2.bosId).toBe(gpt2.eosId);
    expect(addsBos(gpt2)).toBe(false);
    // "hel" + "lo world": the joined text merges across the boundary; the merged token is the answer's, counted.
    const merged = tokenizeDocuments(llama, [{ prompt: 'hel', answer: 'lo world' }], { loss: 'answer' });
    expect(Array.from(merged.docs[0]!.ids)).toEqual([1, ...body, 2]);
    expect(merged.docs[0]!.promptLength).toBe(1);
    expect(merged.counts.boundaryMerges).toBe(1);
  });

  it('refuses a tokenizer without EOS unless eosId is given, and an empty answer', () => {
    const bytes = { eosId: null, encode: (s: string) => Int32Array.from(Buffer.from(s)) };
    expect(() => tokenizeDocuments(bytes, ['ab'])).toThrow(/no EOS token and no eosId/);
    expect(Array.from(tokenizeDocuments(bytes, ['ab'], { eosId: 10 }).docs[0]!.ids)).toEqual([97, 98, 10]);
    expect(() => tokenizeDocuments(tok, [{ prompt: '1', answer: '', name: 'x.jsonl:4' }])).toThrow(/x\.jsonl:4: the answer is empty/);
  });
});

/** A document of n tokens (numbers text + EOS). */
function doc(n: number, i: number, name = `d${i}`): TokenizedDoc {
  return tokenizeDocuments(tok, [{ text: numbers(n - 1, i), name }]).docs[0]!;
}

describe('packDocuments', () => {
  it('best-fit: exact blocks, restarted positions, EOS separators, labels per document', () => {
    const docs = [doc(8, 0), doc(8, 1), doc(3, 2), doc(2, 3)];
    const { blocks, counts } = packDocuments(docs, { blockSize: 10 });
    // Longest first: 8 → block 0, 8 → block 1, 3 fits neither → block 2, 2 → the fullest block it fits (block 0).
    expect(blocks.map((b) => b.segments.map((s) => s.doc))).toEqual([[0, 3], [1], [2]]);
    const b0 = blocks[0]!;
    expect(Array.from(b0.inputIds)).toEqual([...docs[0]!.ids, ...docs[3]!.ids]);
    expect(b0.inputIds[7]).toBe(EOS); // the separator is an input
    expect(Array.from(b0.positionIds)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1]);
    expect(b0.segments).toEqual([{ doc: 0, start: 0, length: 8, offset: 0 }, { doc: 3, start: 0, length: 2, offset: 8 }]);
    expect(blocks.map((b) => b.scored)).toEqual([7 + 1, 7, 2]);
    // Target-aligned inside each document; the EOS position predicts nothing.
    expect(Array.from(b0.labels)).toEqual([...docs[0]!.ids.slice(1), IGNORE_INDEX, docs[3]!.ids[1]!, IGNORE_INDEX]);
    expect(counts).toMatchObject({ documents: 4, blocks: 3, tokens: 21, scoredTargets: 17, paddingTokens: 9, split: 0, dropped: 0 });
    expect(counts.fill).toBeCloseTo(0.7, 12);
  });

  it('in-order keeps the order and opens a block when the next document does not fit', () => {
    const docs = [doc(8, 0), doc(8, 1), doc(3, 2), doc(2, 3)];
    const { blocks } = packDocuments(docs, { blockSize: 10, strategy: 'in-order' });
    expect(blocks.map((b) => b.segments.map((s) => s.doc))).toEqual([[0], [1], [2, 3]]);
  });

  it('splits a long document into block-sized pieces without losing a target', () => {
    const long = doc(25, 5, 'long.txt:1');
    const { blocks, counts } = packDocuments([long], { blockSize: 10 });
    expect(counts).toMatchObject({ split: 1, splitPieces: 3, blocks: 3, tokens: 25, scoredTargets: 24 });
    const first = blocks.find((b) => b.segments[0]!.start === 0)!;
    expect(Array.from(first.positionIds)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.labels[9]).toBe(long.ids[10]); // the last token of a piece predicts the first of the next
    const second = blocks.find((b) => b.segments[0]!.start === 10)!;
    expect(second.positionIds[0]).toBe(0);
    // One token over: the leftover piece would hold only the closing EOS (no target), so it is not kept.
    const r = packDocuments([doc(11, 6)], { blockSize: 10 });
    expect(r.counts).toMatchObject({ splitPieces: 1, tokens: 10, scoredTargets: 10 });
  });

  it("'drop' leaves long documents out by name; 'error' refuses them naming blockSize", () => {
    const docs = [doc(4, 0), doc(12, 1, 'big.jsonl:9')];
    const r = packDocuments(docs, { blockSize: 10, overflow: 'drop' });
    expect(r.counts).toMatchObject({ dropped: 1, droppedNames: ['big.jsonl:9'], blocks: 1, tokens: 4 });
    expect(() => packDocuments(docs, { blockSize: 10, overflow: 'error' })).toThrow(/big\.jsonl:9: the document is 12 tokens, longer than blockSize 10/);
  });

  it('a prompt longer than the context is an error naming the parameter and the example', () => {
    const recs: DocumentInput[] = [
      { prompt: '1 2', answer: ' 3', name: 'ok.jsonl:1' },
      { prompt: numbers(20, 1), answer: ' 3', name: 'fingpt.jsonl:7' },
    ];
    const { docs } = tokenizeDocuments(tok, recs, { loss: 'answer' });
    for (const overflow of ['split', 'drop', 'error'] as const) {
      expect(() => packDocuments(docs, { blockSize: 16, overflow })).toThrow(
        /fingpt\.jsonl:7: the prompt is 20 tokens, which leaves no room for the answer in blockSize 16/,
      );
    }
    expect(() => packDocuments(docs, { blockSize: 1 })).toThrow(/blockSize must be an integer ≥ 2/);
  });

  it('from a prompt/answer file: the error names file:line; system prompts need a chat template', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fintune-pack-'));
    dirs.push(dir);
    const file = path.join(dir, 'pa.jsonl');
    const rows = [{ prompt: '1 2', answer: ' 3' }, { prompt: numbers(30, 2), answer: ' 4' }, { prompt: '5', answer: ' 6', system: '0' }];
    fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const loaded = await loadPromptAnswers(file);
    expect(() => promptAnswerInputs(file, loaded.rows)).toThrow(new RegExp(`pa\\.jsonl:3: the record has a system prompt; choose a chat template`));
    const inputs = promptAnswerInputs(file, loaded.rows.slice(0, 2));
    const { docs } = tokenizeDocuments(tok, inputs, { loss: 'answer' });
    expect(() => packDocuments(docs, { blockSize: 16 })).toThrow(/pa\.jsonl:2: the prompt is 30 tokens, which leaves no room for the answer in blockSize 16/);
    const chat = promptAnswerInputs(file, loaded.rows, { chatTemplate: 'plain' })[2]!;
    expect(chat).toEqual({ prompt: '### System:\n0\n\n### User:\n5\n\n### Assistant:\n', answer: ' 6', name: `${file}:3` });
  });
});

describe('blockBatch', () => {
  it('right-pads, masks pads out of labels, and builds a block-diagonal causal mask', () => {
    const docs = [doc(3, 0), doc(2, 1), doc(4, 2)];
    const { blocks } = packDocuments(docs, { blockSize: 5, strategy: 'in-order' }); // [3, 2], [4]
    const b = blockBatch(blocks, { padId: PAD });
    expect(b.inputIds.shape).toEqual([2, 5]);
    expect(b.attentionMask!.shape).toEqual([2, 5, 5]);
    expect(Array.from(b.inputIds.data as Int32Array).slice(5)).toEqual([...docs[2]!.ids, PAD]);
    expect(Array.from(b.labels.data as Int32Array).slice(5)).toEqual([...docs[2]!.ids.slice(1), IGNORE_INDEX, IGNORE_INDEX]);
    expect(Array.from(b.positionIds!)).toEqual([0, 1, 2, 0, 1, 0, 1, 2, 3, 0]);
    const m = b.attentionMask!.data as Float32Array;
    const row = (bi: number, i: number): string => Array.from(m.subarray((bi * 5 + i) * 5, (bi * 5 + i + 1) * 5), (v) => (v === 0 ? '1' : '.')).join('');
    expect([0, 1, 2, 3, 4].map((i) => row(0, i))).toEqual(['1....', '11...', '111..', '...1.', '...11']);
    expect([0, 1, 2, 3, 4].map((i) => row(1, i))).toEqual(['1....', '11...', '111..', '1111.', '....1']); // the pad keeps only itself
    expect(() => blockBatch(blocks, { padId: PAD, padTo: 4 })).toThrow(/shorter than a block of 5/);
    expect(blockBatch(blocks, { padId: PAD, padTo: 8 }).inputIds.shape).toEqual([2, 8]);
    // Blocks of one document each: a [B, T] key-padding mask does the same job.
    const single = blockBatch([blocks[1]!, packDocuments([doc(2, 4)], { blockSize: 5 }).blocks[0]!], { padId: PAD });
    expect(single.attentionMask!.shape).toEqual([2, 4]);
    expect(Array.from(single.attentionMask!.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0, -Infinity, -Infinity]);
  });

  it('padBatch with keyPaddingMask gives a [B, S] mask; ShuffledExamples passes it on', () => {
    const exs = [doc(4, 0), doc(6, 1)].map(documentExample);
    const b = padBatch(exs, PAD, { keyPaddingMask: true });
    expect(b.attentionMask!.shape).toEqual([2, 5]);
    expect(Array.from(b.attentionMask!.data as Float32Array)).toEqual([0, 0, 0, -Infinity, -Infinity, 0, 0, 0, 0, 0]);
    expect(Array.from(b.labels.data as Int32Array).slice(3, 5)).toEqual([IGNORE_INDEX, IGNORE_INDEX]);
    expect(padBatch(exs, PAD).attentionMask).toBeUndefined();
    const s = new ShuffledExamples(exs, { batchSize: 2, seed: 1, padId: PAD, keyPaddingMask: true });
    expect(s.next().attentionMask!.shape).toEqual([2, 5]);
  });
});

/** Summed loss of every segment of every block, from one forward over the whole batch. */
function packedSegmentLosses(model: CausalLM, docs: TokenizedDoc[], blockSize: number, masked = true): Map<number, number> {
  const { blocks } = packDocuments(docs, { blockSize });
  const batch = blockBatch(blocks, { padId: PAD, padTo: blockSize });
  const out = new Map<number, number>();
  tidy(() => {
    const logits = model.forward(batch.inputIds, masked ? { attentionMask: batch.attentionMask, positionIds: batch.positionIds } : {});
    const per = crossEntropy(logits, batch.labels, { reduction: 'none' }).data as Float32Array;
    blocks.forEach((b, bi) => {
      for (const s of b.segments) {
        let sum = 0;
        for (let t = s.offset; t < s.offset + s.length; t++) if (b.labels[t] !== IGNORE_INDEX) sum += per[bi * blockSize + t]!;
        out.set(s.doc, (out.get(s.doc) ?? 0) + sum);
      }
    });
  });
  return out;
}

function aloneLoss(model: CausalLM, d: TokenizedDoc): number {
  const ex = documentExample(d);
  const T = ex.inputIds.length;
  return tidy(() => crossEntropy(model.forward(fromArray(ex.inputIds, [1, T])), fromArray(ex.labels, [1, T]), { reduction: 'sum' }).item());
}

describe('packed losses equal unpacked ones (GPT-2)', () => {
  const model = new GPT2({ vocabSize: tok.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2 });
  model.initWeights(7);
  model.eval();
  // Plain documents and prompt/answer pairs (answer-only loss), several per block.
  const recs: DocumentInput[] = [];
  for (let i = 0; i < 10; i++) {
    recs.push(i % 2 ? numbers(3 + ((i * 5) % 11), i) : { prompt: numbers(4 + (i % 5), i), answer: ' ' + numbers(2 + (i % 3), i + 3), name: `pa${i}` });
  }
  const { docs } = tokenizeDocuments(tok, recs, { loss: 'answer' });

  it('every document: packed (mask + restarted positions) = alone, within 1e-5', () => {
    noGrad(() => {
      const packed = packedSegmentLosses(model, docs, 32);
      expect(packed.size).toBe(docs.length);
      let worst = 0;
      docs.forEach((d, i) => {
        const scored = d.ids.length - d.firstTarget;
        worst = Math.max(worst, Math.abs(packed.get(i)! / scored - aloneLoss(model, d) / scored));
      });
      expect(worst).toBeLessThan(1e-5);
      // The check has teeth: without the mask and positions the later documents see the earlier ones.
      const leaky = packedSegmentLosses(model, docs, 32, false);
      const diff = Math.max(...docs.map((d, i) => Math.abs(leaky.get(i)! - packed.get(i)!)));
      expect(diff).toBeGreaterThan(1e-3);
    });
  });

  it('gradients too: one packed batch = the documents one by one', () => {
    const grads = (): Float32Array[] => model.parameters().map((p) => Float32Array.from(p.grad!.contiguous().data as Float32Array));
    const sub = docs.slice(0, 6);
    const { blocks } = packDocuments(sub, { blockSize: 32 });
    const b = blockBatch(blocks, { padId: PAD });
    model.zeroGrad();
    tidy(() => crossEntropy(model.forward(b.inputIds, { attentionMask: b.attentionMask, positionIds: b.positionIds }), b.labels, { reduction: 'sum' }).backward());
    const packed = grads();
    model.zeroGrad();
    for (const d of sub) {
      const ex = documentExample(d);
      const T = ex.inputIds.length;
      tidy(() => crossEntropy(model.forward(fromArray(ex.inputIds, [1, T])), fromArray(ex.labels, [1, T]), { reduction: 'sum' }).backward());
    }
    const alone = grads();
    model.zeroGrad();
    let worst = 0, scale = 0;
    packed.forEach((g, i) => g.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - alone[i]![j]!));
      scale = Math.max(scale, Math.abs(alone[i]![j]!));
    }));
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it('unpacked: a right-padded batch with its key-padding mask scores each document as alone', () => {
    noGrad(() => {
      const b = padBatch(docs.map(documentExample), PAD, { keyPaddingMask: true });
      const per = tidy(() => (crossEntropy(model.forward(b.inputIds, { attentionMask: b.attentionMask }), b.labels, { reduction: 'none' }).data as Float32Array).slice());
      const T = b.inputIds.shape[1]!;
      docs.forEach((d, i) => {
        let sum = 0;
        for (let t = 0; t < T; t++) sum += per[i * T + t]!; // ignored positions contribute 0
        expect(Math.abs(sum - aloneLoss(model, d)) / (d.ids.length - d.firstTarget)).toBeLessThan(1e-5);
      });
    });
  });

  it('a split document: the pieces score what running each piece alone scores', () => {
    const long = tokenizeDocuments(tok, [numbers(40, 3)]).docs[0]!; // 41 tokens → pieces of 16, 16, 9
    noGrad(() => {
      const packed = packedSegmentLosses(model, [long, docs[1]!], 16).get(0)!;
      let alone = 0;
      for (let s = 0; s < long.ids.length - 1; s += 16) {
        // A piece alone: its tokens as input, the following token of the document as each label.
        const n = Math.min(16, long.ids.length - 1 - s);
        const inp = long.ids.slice(s, s + n);
        const lab = long.ids.slice(s + 1, s + n + 1);
        alone += tidy(() => crossEntropy(model.forward(fromArray(inp, [1, n])), fromArray(lab, [1, n]), { reduction: 'sum' }).item());
      }
      expect(Math.abs(packed - alone) / (long.ids.length - 1)).toBeLessThan(1e-5);
      // Alone in the batch its pieces are one document per row, batched with the [B, T] key-padding mask.
      const piecesOnly = packedSegmentLosses(model, [long], 16).get(0)!;
      expect(Math.abs(piecesOnly - alone) / (long.ids.length - 1)).toBeLessThan(1e-5);
    });
  });
});

describe('packed losses equal unpacked ones (Llama: rotary positions, grouped-query attention)', () => {
  it('every document, within 1e-5', () => {
    const model = new Llama({ vocabSize: tok.vocabSize, hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 32 });
    model.initWeights(5);
    model.eval();
    const recs = Array.from({ length: 8 }, (_, i) => ({ prompt: numbers(3 + (i % 4), i), answer: ' ' + numbers(2 + (i % 5), i + 1) }));
    const { docs } = tokenizeDocuments(tok, recs, { loss: 'answer' });
    noGrad(() => {
      const packed = packedSegmentLosses(model, docs, 24);
      docs.forEach((d, i) => {
        const scored = d.ids.length - d.firstTarget;
        expect(Math.abs(packed.get(i)! - aloneLoss(model, d)) / scored).toBeLessThan(1e-5);
      });
    });
  });
});

describe('PackedBlocks', () => {
  const docs = Array.from({ length: 23 }, (_, i) => doc(2 + (i % 6), i));
  const { blocks } = packDocuments(docs, { blockSize: 8 });
  const opts = { batchSize: 3, seed: 11, padId: PAD };
  const run = (src: PackedBlocks, n: number): number[][] =>
    Array.from({ length: n }, () => {
      src.next();
      return [...src.lastBlocks];
    });

  it('seeded shuffles are reproducible, differ by seed and epoch, and cover every block once per epoch', () => {
    const a = run(new PackedBlocks(blocks, opts), 12);
    expect(run(new PackedBlocks(blocks, opts), 12)).toEqual(a);
    expect(run(new PackedBlocks(blocks, { ...opts, seed: 12 }), 12)).not.toEqual(a);
    const perEpoch = Math.ceil(blocks.length / 3);
    const first = a.slice(0, perEpoch).flat();
    expect([...first].sort((x, y) => x - y)).toEqual(blocks.map((_, i) => i));
    expect(first).toEqual(Array.from(new PackedBlocks(blocks, opts).order(0)));
    expect(a.slice(perEpoch, 2 * perEpoch).flat()).not.toEqual(first);
  });

  it('state/setState resumes exactly (through JSON), and refuses other data', () => {
    const orig = new PackedBlocks(blocks, opts);
    run(orig, 5);
    const saved = JSON.parse(JSON.stringify(orig.state()));
    const resumed = new PackedBlocks(blocks, opts);
    resumed.setState(saved);
    for (let i = 0; i < 6; i++) {
      const x = orig.next(), y = resumed.next();
      expect(Array.from(y.inputIds.data as Int32Array)).toEqual(Array.from(x.inputIds.data as Int32Array));
      expect(Array.from(y.labels.data as Int32Array)).toEqual(Array.from(x.labels.data as Int32Array));
      expect(y.positionIds).toEqual(x.positionIds);
    }
    const other = new PackedBlocks(packDocuments(docs, { blockSize: 9 }).blocks, opts);
    expect(() => other.setState(saved)).toThrow(/saved position is for \d+ blocks .* resume with the same data/);
    expect(() => resumed.setState({ epoch: 0 })).toThrow(/bad data position/);
    // One token different is other data.
    const changed = blocks.map((b, i) => (i === 3 ? { ...b, inputIds: Int32Array.from(b.inputIds, (v, j) => (j === 1 ? v + 1 : v)) } : b));
    expect(blocksFingerprint(changed)).not.toBe(blocksFingerprint(blocks));
  });

  it('trains through the Trainer (masks and positions consumed), with packed evaluation', async () => {
    const model = new GPT2({ vocabSize: tok.vocabSize, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });
    model.initWeights(3);
    const trainer = new Trainer({
      model,
      train: new PackedBlocks(blocks, opts),
      eval: packedEvalBatches(blocks, 4, { padId: PAD }),
      config: { runDir: null, maxSteps: 3, lr: 1e-2, progress: 'quiet' },
    });
    const r = await trainer.train();
    expect(Number.isFinite(r.lastLoss)).toBe(true);
    expect(Number.isFinite(trainer.evaluate().loss)).toBe(true);
  });
});
