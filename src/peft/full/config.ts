/** Full fine-tuning's options: every weight trains except what is frozen here. */
export interface FullConfig {
  /** Keep token (and GPT-2 position) embeddings frozen; with a tied head the head stays frozen too. */
  freezeEmbeddings?: boolean;
  /** Transformer block indices to keep frozen (e.g. the lower half). */
  freezeLayers?: number[];
}
