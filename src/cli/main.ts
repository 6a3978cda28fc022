#!/usr/bin/env node
/**
 * The `fintune` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together, so adding a command is one line below.
 *
 * Exit codes a script can rely on: 0 success, 1 the work failed (bad data, a failed check), 2 bad usage.
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
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
    .exitOverride()
    .addHelpText(
      'after',
      `
Every command also takes --options FILE: a JSON or YAML object of its long options (camelCase or kebab-case
keys, e.g. {"maxNewTokens": 16, "greedy": true}); flags given on the command line win over the file.`,
    );
  registerCommands(program);
  return program;
}

/**
 * Expand `--options FILE` into flags placed before the command line's own, so that explicit flags (parsed later)
 * override the file's values. Keys are option names; true adds the flag, false and null leave it out, arrays
 * become comma-separated values.
 */
export function expandOptionsFile(argv: string[]): string[] {
  const i = argv.findIndex((a) => a === '--options' || a.startsWith('--options='));
  if (i < 0) return argv;
  const file = argv[i]!.startsWith('--options=') ? argv[i]!.slice('--options='.length) : argv[i + 1];
  if (!file) throw new UsageError('--options needs a file');
  const rest = [...argv.slice(0, i), ...argv.slice(argv[i]!.startsWith('--options=') ? i + 1 : i + 2)];
  let obj: unknown;
  try {
    obj = parseYaml(fs.readFileSync(file, 'utf8')); // YAML is a superset of JSON
  } catch (e) {
    throw new UsageError(`--options ${file}: ${(e as Error).message}`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new UsageError(`--options ${file}: expected an object of option names and values`);
  const flags: string[] = [];
  for (const [key, v] of Object.entries(obj as Record<string, unknown>)) {
    const name = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    if (v === false || v === null || v === undefined) continue;
    if (v === true) flags.push(name);
    else if (Array.isArray(v)) flags.push(name, v.join(','));
    else if (typeof v === 'object') throw new UsageError(`--options ${file}: "${key}" must be a number, string, boolean or list`);
    else flags.push(name, String(v));
  }
  const firstFlag = rest.findIndex((a) => a.startsWith('-'));
  const at = firstFlag < 0 ? rest.length : firstFlag;
  return [...rest.slice(0, at), ...flags, ...rest.slice(at)];
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(expandOptionsFile(argv), { from: 'user' });
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

// Run when executed as the bin, or as src/cli/main.ts under a TypeScript loader (tests of commands that start
// themselves again, such as bench --ablation), not when imported by tests.
const invoked = process.argv[1] ?? '';
if (invoked.endsWith('cli/main.js') || invoked.endsWith('cli/main.ts') || invoked.endsWith('/fintune')) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
