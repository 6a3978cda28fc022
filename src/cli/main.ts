#!/usr/bin/env node
/**
 * The `fintune` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together, so adding a command is one line below.
 *
 * Exit codes a script can rely on: 0 success, 1 the work failed (bad data, a failed check), 2 bad usage.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerCommands } from './commands/index.js';
import { UsageError } from './util.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fintune')
    .description('Train, fine-tune and honestly evaluate GPT-style models on financial data, on a CPU.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`fintune: ${msg}\n`);
    if (process.env.FINTUNE_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return err instanceof UsageError ? 2 : 1;
  }
}

// Run when executed as the bin (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (invoked.endsWith('cli/main.js') || invoked.endsWith('/fintune')) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
