/**
 * GPT-2 shapes for training from scratch, by approximate size. Counts below are for a byte-level vocabulary
 * (256 ids), which is what `fintune pretrain` uses until a tokenizer is given; a 50,257-token GPT-2 vocabulary
 * adds vocab × nEmbd embedding parameters (the head is tied, so only once).
 *
 *   gpt2-tiny   nEmbd 64,  4 layers,  4 heads,  ctx 128    ≈ 0.2M  (smoke tests and demos)
 *   gpt2-1m     nEmbd 128, 4 layers,  4 heads,  ctx 256    ≈ 0.8M
 *   gpt2-10m    nEmbd 256, 12 layers, 8 heads,  ctx 512    ≈ 9.7M
 *   gpt2-30m    nEmbd 384, 16 layers, 6 heads,  ctx 1024   ≈ 28.9M
 *   gpt2-124m   nEmbd 768, 12 layers, 12 heads, ctx 1024   ≈ 124M with the GPT-2 vocabulary (OpenAI's "small")
 *
 * Widths are multiples of 64 per head where possible, the shape GPT-2's own family uses; depth grows faster
 * than width at small sizes, which trains better per parameter than wide-and-shallow (nanoGPT's experience).
 */
import type { GPT2Options } from './gpt2.js';

export interface Preset {
  name: string;
  description: string;
  options: Omit<GPT2Options, 'vocabSize'>;
  /** The vocabulary the preset is meant for when none is implied by a tokenizer. */
  defaultVocab: number;
}

const PRESETS: Preset[] = [
  { name: 'gpt2-tiny', description: 'about 0.2M parameters (tests, demos)', options: { nEmbd: 64, nLayer: 4, nHead: 4, nPositions: 128 }, defaultVocab: 256 },
  { name: 'gpt2-1m', description: 'about 1M parameters', options: { nEmbd: 128, nLayer: 4, nHead: 4, nPositions: 256 }, defaultVocab: 256 },
  { name: 'gpt2-10m', description: 'about 10M parameters', options: { nEmbd: 256, nLayer: 12, nHead: 8, nPositions: 512 }, defaultVocab: 256 },
  { name: 'gpt2-30m', description: 'about 30M parameters', options: { nEmbd: 384, nLayer: 16, nHead: 6, nPositions: 1024 }, defaultVocab: 256 },
  {
    name: 'gpt2-124m',
    description: "GPT-2 small (124M parameters with GPT-2's 50,257-token vocabulary)",
    options: { nEmbd: 768, nLayer: 12, nHead: 12, nPositions: 1024 },
    defaultVocab: 50257,
  },
];

export function presetNames(): string[] {
  return PRESETS.map((p) => p.name);
}

export function getPreset(name: string): Preset {
  const p = PRESETS.find((x) => x.name === name);
  if (!p) throw new Error(`unknown model preset "${name}" (choose one of: ${presetNames().join(', ')})`);
  return p;
}

/** The GPT2 options of a preset for a vocabulary (default: the preset's own), with optional dropout. */
export function presetOptions(name: string, vocabSize?: number, dropout = 0): GPT2Options {
  const p = getPreset(name);
  return { ...p.options, vocabSize: vocabSize ?? p.defaultVocab, residDropout: dropout, embdDropout: dropout };
}

/** Parameters of a GPT-2 with these options (tied head counted once), without building it. */
export function gpt2ParameterCount(o: GPT2Options): number {
  const C = o.nEmbd;
  const inner = o.nInner ?? 4 * C;
  const block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * inner + inner) + (inner * C + C);
  const head = o.tieWordEmbeddings === false ? o.vocabSize * C : 0;
  return o.vocabSize * C + o.nPositions * C + o.nLayer * block + 2 * C + head;
}
