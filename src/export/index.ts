/** Handing work to other engines: ONNX for inference, a Transformers + PEFT job for GPU clusters, and back. */
export { exportOnnx, ONNX_OPSET, type OnnxExportOptions } from './onnx.js';
export { writeJob, peftConfigFor, METHODS_WITHOUT_PEFT, PINNED_REQUIREMENTS, type JobSpec, type JobMethod, type JobExample, type JobTestItem } from './job.js';
export { jobSpecFromRun, readRunDescription, type RunDescription } from './job_from_run.js';
export { importJob, type ImportResult } from './import.js';
