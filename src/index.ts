/** fintune's library API. Re-exports grow as the capabilities land. */
export { VERSION } from './version.js';
