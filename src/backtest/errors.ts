/**
 * A back-test input problem: an empty or misaligned forecasts file, an instrument without prices, a parameter
 * out of range. The message names the file and line, or the parameter, so it can be fixed without a debugger.
 */
export class BacktestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BacktestError';
  }
}
