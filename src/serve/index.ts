/** The local dashboard (`fintune serve`). */
export { startDashboard, type Dashboard, type ServeOptions } from './server.js';
export { listRuns, runInfo, readMetrics, type RunInfo, type RunStatus } from './runs.js';
