import type { Command } from 'commander';
import { register as registerBacktest } from './backtest.js';
import { register as registerBench } from './bench.js';
import { register as registerData } from './data.js';
import { register as registerDemo } from './demo.js';
import { register as registerEval } from './eval.js';
import { register as registerExport } from './export.js';
import { register as registerFinetune } from './finetune.js';
import { register as registerGenerate } from './generate.js';
import { register as registerImport } from './import.js';
import { register as registerMerge } from './merge.js';
import { register as registerMethods } from './methods.js';
import { register as registerPretrain } from './pretrain.js';
import { register as registerReport } from './report.js';
import { register as registerServe } from './serve.js';
import { register as registerStudy } from './study.js';
import { register as registerTune } from './tune.js';

/** One line per command module; each exports `register(program)`. Keep alphabetical. */
type Registrar = (program: Command) => void;
const registrars: Registrar[] = [registerBacktest, registerBench, registerData, registerDemo, registerEval, registerExport, registerFinetune, registerGenerate, registerImport, registerMerge, registerMethods, registerPretrain, registerReport, registerServe, registerStudy, registerTune];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
