import { describe, expect, it } from 'vitest';
import {
  directionOf,
  fingptParsedFields,
  magnitudeOf,
  parseFinGPTAnswer,
  scoreFinGPT,
  stripThink,
} from '../../src/eval/fingpt.js';
import { GENERATION_SCHEMA, validateGeneration } from '../../src/eval/schema.js';

const answer = (pred: string, pos = 'Strong iPhone sales.', con = 'Supply chain risks.', anal = 'Demand looks firm.') =>
  `[Positive Developments]:\n1. ${pos}\n\n[Potential Concerns]:\n1. ${con}\n\n[Prediction & Analysis]:\nPrediction: ${pred}\nAnalysis: ${anal}\n`;

describe('FinGPT answer parser', () => {
  it('parses a well-formed answer', () => {
    const a = parseFinGPTAnswer(answer('Up by 2-3%'))!;
    expect(a).not.toBeNull();
    expect(a.positives.trim()).toBe('1. Strong iPhone sales.');
    expect(a.concerns.trim()).toBe('1. Supply chain risks.');
    expect(a.prediction_text.trim()).toBe('Up by 2-3%');
    expect(a.direction).toBe(1);
    expect(a.signed_magnitude).toBe(2.5);
    expect(a.analysis.trim()).toBe('Demand looks firm.');
  });

  it('accepts "Prediction and Analysis" and a leading think block', () => {
    const text = '<think>\nLet me weigh the news…\n</think>\n' + answer('Down by more than 5%').replace('&', 'and');
    const a = parseFinGPTAnswer(text)!;
    expect(a.direction).toBe(-1);
    expect(a.signed_magnitude).toBe(-5.5);
  });

  it('an unclosed think block leaves nothing to parse', () => {
    expect(stripThink('<think> still thinking [Positive Developments]:')).toBe('');
    expect(stripThink('no think here')).toBe('no think here');
    expect(parseFinGPTAnswer('<think>' + answer('Up by 1-2%'))).toBeNull();
  });

  it('rejects partial answers', () => {
    // Missing the concerns section.
    expect(parseFinGPTAnswer('[Positive Developments]: a\n[Prediction & Analysis]:\nPrediction: Up\nAnalysis: b')).toBeNull();
    // Missing "Analysis:".
    expect(parseFinGPTAnswer(answer('Up by 2-3%').replace('Analysis:', 'Reasoning:'))).toBeNull();
    // Text before the first heading.
    expect(parseFinGPTAnswer('Sure! ' + answer('Up by 2-3%'))).toBeNull();
  });

  it('rejects garbage', () => {
    for (const g of ['', 'asdf', '%%%% 3-4% up', '[Positive Developments]', '\u0000\u0001']) {
      expect(parseFinGPTAnswer(g)).toBeNull();
    }
  });

  it('direction keywords, as substrings, up before down', () => {
    expect(directionOf('Increase of 1-2%')).toBe(1);
    expect(directionOf('DECLINE by 2-3%')).toBe(-1);
    expect(directionOf('decrease')).toBe(-1);
    expect(directionOf('Flat')).toBe(0);
    // Substring matching, reproduced: "upside" is up, and "up" wins over "down" in "down, then up".
    expect(directionOf('limited upside')).toBe(1);
    expect(directionOf('down, then up')).toBe(1);
  });

  it('magnitude rules, including the single-digit quirk', () => {
    expect(magnitudeOf('Up by 2-3%')).toBe(2.5);
    expect(magnitudeOf('Down by more than 5%')).toBe(5.5);
    expect(magnitudeOf('Up by 4%')).toBe(4.5);
    // The original pattern keeps the last digit before "%": "10%" → 0 + 0.5.
    expect(magnitudeOf('Up by 10%')).toBe(0.5);
    expect(magnitudeOf('Up a little')).toBeNull();
    // No direction: the signed magnitude is 0 even with a number.
    expect(parseFinGPTAnswer(answer('Flat, 1-2%'))!.signed_magnitude).toBe(0);
  });
});

describe('FinGPT scoring', () => {
  it('accuracy, MSE and ROUGE over pairs where both parse, with failures reported', () => {
    const ref1 = answer('Up by 2-3%', 'sales grew', 'costs rose', 'demand is firm');
    const ref2 = answer('Down by 1-2%', 'new product', 'weak margins', 'margins hurt');
    const ref3 = answer('Up by 3-4%', 'x', 'y', 'z');
    const pairs = [
      // Identical answer: direction match, magnitude 2.5 vs 2.5, every ROUGE 1.
      { answer: ref1, reference: ref1 },
      // Wrong direction: +3.5 vs −1.5 → squared error 25; texts share nothing → ROUGE 0.
      { answer: answer('Up by 3-4%', 'alpha', 'beta', 'gamma'), reference: ref2 },
      // Unparseable answer: counted, not scored.
      { answer: 'I cannot predict stock prices.', reference: ref3 },
    ];
    const s = scoreFinGPT(pairs);
    expect(s.n).toBe(3);
    expect(s.scored).toBe(2);
    expect(s.answer_parse_failures).toBe(1);
    expect(s.answer_parse_failure_share).toBeCloseTo(1 / 3, 14);
    expect(s.reference_parse_failures).toBe(0);
    expect(s.binary_accuracy).toBe(0.5);
    // (0² + 5²) / 2
    expect(s.mse).toBe(12.5);
    // The heading numbering "1." tokenizes to "1" in both texts of pair 2, so ROUGE-1 there is not 0:
    // positives "1 alpha" vs "1 new product": overlap 1, P = 1/2, R = 1/3, F = 0.4 → mean (1 + 0.4)/2 = 0.7.
    expect(s.rouge!.positives.rouge1).toBeCloseTo(0.7, 12);
    // ROUGE-2: pair 2 shares no bigram → (1 + 0)/2.
    expect(s.rouge!.positives.rouge2).toBeCloseTo(0.5, 12);
    // Analysis has no numbering: "gamma" vs "margins hurt" → 0; mean 0.5.
    expect(s.rouge!.analysis.rougeL).toBeCloseTo(0.5, 12);
  });

  it('nothing parsed: null scores, failure share 1', () => {
    const s = scoreFinGPT([{ answer: 'x', reference: 'y' }]);
    expect(s.binary_accuracy).toBeNull();
    expect(s.rouge).toBeNull();
    expect(s.answer_parse_failure_share).toBe(1);
    expect(s.reference_parse_failures).toBe(1);
  });
});

describe('parsed fields for generation records', () => {
  it('fit the generation schema', () => {
    const { parsed, parse_ok } = fingptParsedFields(answer('Down by 3-4%'));
    expect(parse_ok).toBe(true);
    expect(parsed).toMatchObject({ direction: -1, signed_magnitude: -3.5, prediction: 'Down by 3-4%' });
    const rec = { schema: GENERATION_SCHEMA, id: 'g', run: 'r', model: 'm', prompt: 'p', output: 'o', parsed, parse_ok };
    expect(() => validateGeneration(rec)).not.toThrow();
    expect(fingptParsedFields('garbage')).toEqual({ parsed: {}, parse_ok: false });
  });
});
