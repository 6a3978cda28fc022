/**
 * The end of a CLI training run: train, put the chosen weights (best held-out loss, or last) into the model,
 * export it, write summary.json and print held-out loss and perplexity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Module } from '../nn/module.js';
import { CheckpointStore } from './checkpoints.js';
import { report } from './cli_support.js';
import { NonFiniteError, type Trainer, type TrainResult } from './trainer.js';

export async function finishRun(
  trainer: Trainer,
  runDir: string,
  which: 'best' | 'last',
  exportModel: (model: Module, dir: string) => unknown,
  write: (s: string) => void = (s) => void process.stdout.write(s),
): Promise<TrainResult> {
  let result: TrainResult;
  try {
    result = await trainer.train();
  } catch (err) {
    // The trainer's message already says what happened and where the last good checkpoint is.
    if (err instanceof NonFiniteError) throw new Error(err.message);
    throw err;
  }
  let exported: 'best' | 'last' = 'last';
  if (which === 'best' && result.bestStep !== null && result.bestStep !== result.step) {
    const store = new CheckpointStore(path.join(runDir, 'checkpoints'));
    const best = store.list().find((c) => c.step === result.bestStep);
    if (best) {
      const ck = store.load(best.dir);
      trainer.model.loadStateDict(ck.weights, { strict: ck.state.trainableOnly !== true, source: best.dir });
      exported = 'best';
    }
  } else if (which === 'best' && result.bestStep !== null) exported = 'best';
  const finalDir = path.join(runDir, 'final');
  fs.rmSync(finalDir, { recursive: true, force: true });
  exportModel(trainer.model, finalDir);
  const summary = {
    steps: result.step,
    stoppedBy: result.stoppedBy,
    resumedFrom: result.resumedFrom,
    finalHeldOutLoss: result.finalValLoss,
    finalHeldOutPerplexity: result.finalValLoss === null ? null : Math.exp(result.finalValLoss),
    bestHeldOutLoss: result.bestValLoss,
    bestHeldOutPerplexity: result.bestValLoss === null ? null : Math.exp(result.bestValLoss),
    bestStep: result.bestStep,
    exported,
    exportedStep: exported === 'best' ? result.bestStep : result.step,
  };
  writeFileAtomic(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  report(result, runDir, `${finalDir} (${exported === 'best' ? `best, step ${result.bestStep}` : `last, step ${result.step}`})`, write);
  return result;
}
