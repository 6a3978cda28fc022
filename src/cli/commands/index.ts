import type { Command } from 'commander';

/** One line per command module; each exports `register(program)`. Keep alphabetical. */
type Registrar = (program: Command) => void;
const registrars: Registrar[] = [];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
