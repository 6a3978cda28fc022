/** The training toolkit: one Trainer for every method, schedules, batch sources, checkpoints, TensorBoard. */
export * from './types.js';
export * from './schedule.js';
export * from './data.js';
export * from './trainer.js';
export { checkpoint, type CheckpointOptions } from './checkpoint_op.js';
export { CheckpointStore, stepDirName, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE } from './checkpoints.js';
export { TensorBoardWriter, crc32c, maskedCrc32c } from './tensorboard.js';
export { Progress, formatDuration, type ProgressMode } from './progress.js';
