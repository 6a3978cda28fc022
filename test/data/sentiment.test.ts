import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { DATA } from '../helpers/paths.js';
import { loadLabelledTweets } from '../../src/data/loaders/text.js';
import { naiveBayesPredict, naiveBayesProbabilities, naiveBayesScorer, sentimentTokens, trainNaiveBayes } from '../../src/data/sentiment.js';

describe('naive Bayes sentiment scorer', () => {
  test('tokens: StockNet and news spellings meet', () => {
    expect(sentimentTokens('rt AT_USER $ aapl up 5 % URL')).toEqual(['$aapl', 'up', '<num>', '%']);
    expect(sentimentTokens('$AAPL up 5% https://t.co/x')).toEqual(['$aapl', 'up', '<num>']);
  });

  test('hand-computed posteriors on a three-document corpus', () => {
    const m = trainNaiveBayes([
      { text: 'good up', label: 1 },
      { text: 'bad down', label: 0 },
      { text: 'flat', label: 2 },
    ]);
    // Vocabulary of 5, alpha 1, equal priors: P(good|bull) = 2/7, P(good|bear) = 1/7, P(good|neutral) = 1/6.
    // Posteriors 12/25, 6/25, 7/25.
    const p = naiveBayesProbabilities(m, 'good unseen-word');
    expect(p[0]).toBeCloseTo(6 / 25, 12);
    expect(p[1]).toBeCloseTo(12 / 25, 12);
    expect(p[2]).toBeCloseTo(7 / 25, 12);
    expect(naiveBayesScorer(m).score('good')).toBeCloseTo(6 / 25, 12);
    expect(naiveBayesScorer(m).score('flat')).toBe(0);
  });

  test('trained on the shipped train split, beats the majority class on the validation split', async () => {
    const train = await loadLabelledTweets(path.join(DATA, 'fin-tweets-sentiment/sent_train.csv'));
    const valid = await loadLabelledTweets(path.join(DATA, 'fin-tweets-sentiment/sent_valid.csv'));
    const m = trainNaiveBayes(train.rows);
    let right = 0;
    for (const r of valid.rows) if (naiveBayesPredict(m, r.text) === r.label) right++;
    const accuracy = right / valid.rows.length;
    // Majority class (neutral): 1566 of 2388 = 65.6 %.
    expect(accuracy).toBeGreaterThan(0.75); // 79.8 % when written
  });
});
