import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The project root (the folder holding package.json). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared beside the project: read-only fixtures, data and peer benchmarks. */
export const SHARED = path.resolve(ROOT, '../shared');
export const FIXTURES = path.join(SHARED, 'fixtures');
export const DATA = path.join(SHARED, 'data');
