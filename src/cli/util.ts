/** Small helpers shared by the command modules: argument parsing and output conventions. */
import { InvalidArgumentError } from 'commander';

/** A commander argument parser for integers within bounds. */
export function intArg(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}, got "${v}"`);
    }
    return n;
  };
}

export function floatArg(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

/** "1,2,3" → [1, 2, 3] */
export function idListArg(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const ids = parts.map(Number);
  if (parts.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`expected comma-separated token ids like 1,2,3, got "${v}"`);
  }
  return ids;
}

/** Print one JSON document to stdout (the contract for --json output: one object, one line). */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v) + '\n');
}

/** A mistake in how the command was called (exit code 2), as opposed to the work failing (exit code 1). */
export class UsageError extends Error {}
