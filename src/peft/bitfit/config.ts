/** BitFit's settings: which biases train (all by default). Saved in fintune's layout (PEFT has no BitFit). */
export interface BitFitConfig {
  /** Only biases whose parameter name matches this regex (full name, e.g. "transformer\\.h\\.\\d+\\.mlp\\..*"). */
  pattern?: string | null;
}
