/** The data half of fintune: loaders, validation, price windows as text, chronological splits, task data. */
export * from './errors.js';
export * from './time.js';
export { readLines, readCsvRecords, readTextChunks, CsvParser, type CsvRecord, type Line } from './stream.js';
export * from './loaders/ohlcv.js';
export * from './loaders/fx_daily.js';
export * from './loaders/stocknet.js';
export * from './loaders/text.js';
export * from './loaders/parquet.js';
export * from './transforms.js';
export * from './windows.js';
export * from './splits.js';
export * from './detect.js';
export * from './inspect.js';
export * from './stocknet.js';
export * from './prompts.js';
export * from './sentiment.js';
export * from './reviews.js';
