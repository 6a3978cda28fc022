/**
 * Reviewed generations → a new prompt/answer set (`fintune data from-reviews`).
 *
 * A generation enters the set when its latest review (by review time; file order breaks ties) accepts it with
 * at least `minRating`; the answer is the reviewer's corrected text when there is one, else the model's output.
 * Everything left out is counted by reason, so the report says how the set was made.
 */
import { readGenerations, readReviews, type GenerationRecord, type ReviewRecord } from '../eval/schema.js';
import { DataError } from './errors.js';

export interface ReviewedExample {
  prompt: string;
  answer: string;
  generation_id: string;
  model: string;
  rating: number;
  corrected: boolean;
  reviewer: string;
}

export interface FromReviewsCounts {
  reviews: number;
  /** Generations with at least one review. */
  reviewed: number;
  accepted: number;
  rejected: number;
  belowRating: number;
  /** Of the accepted, how many carry a corrected text. */
  corrected: number;
}

export async function promptsFromReviews(generationsFile: string, reviewsFile: string, options: { minRating?: number } = {}): Promise<{ examples: ReviewedExample[]; counts: FromReviewsCounts }> {
  const minRating = options.minRating ?? 1;
  if (!Number.isInteger(minRating) || minRating < 1 || minRating > 5) throw new Error(`minRating must be an integer from 1 to 5, got ${minRating}`);
  const latest = new Map<string, ReviewRecord>();
  let reviews = 0;
  for await (const r of readReviews(reviewsFile)) {
    reviews++;
    const prev = latest.get(r.generation_id);
    if (!prev || Date.parse(r.time) >= Date.parse(prev.time)) latest.set(r.generation_id, r);
  }
  const generations = new Map<string, GenerationRecord>();
  for await (const g of readGenerations(generationsFile)) if (latest.has(g.id)) generations.set(g.id, g);
  const missing = [...latest.keys()].filter((id) => !generations.has(id));
  if (missing.length > 0) {
    throw new DataError(`${reviewsFile}: ${missing.length} reviewed generation id(s) not found in ${generationsFile}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`);
  }
  const counts: FromReviewsCounts = { reviews, reviewed: latest.size, accepted: 0, rejected: 0, belowRating: 0, corrected: 0 };
  const examples: ReviewedExample[] = [];
  for (const [id, r] of latest) {
    if (r.decision !== 'accept') {
      counts.rejected++;
      continue;
    }
    if (r.rating < minRating) {
      counts.belowRating++;
      continue;
    }
    const g = generations.get(id)!;
    counts.accepted++;
    if (r.corrected !== null) counts.corrected++;
    examples.push({ prompt: g.prompt, answer: r.corrected ?? g.output, generation_id: id, model: g.model, rating: r.rating, corrected: r.corrected !== null, reviewer: r.reviewer });
  }
  return { examples, counts };
}
