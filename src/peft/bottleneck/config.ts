/**
 * Bottleneck adapters with AdapterHub's names: Houlsby (after the attention output and after the FFN), Pfeiffer
 * (after the FFN only), parallel (beside the FFN, scaled), and `mql5-stacked` (the MQL5 article's variant:
 * n_layer adapters chained on the final hidden state, before the LM head, with the whole base trained).
 */
export type BottleneckVariant = 'houlsby' | 'pfeiffer' | 'parallel' | 'mql5-stacked';

export interface BottleneckConfig {
  variant: BottleneckVariant;
  /** Bottleneck width = hidden / reductionFactor (AdapterHub: 16 sequential, 2 parallel) unless `size` is given. */
  reductionFactor?: number;
  size?: number;
  /** AdapterHub's defaults: swish for Houlsby, relu for Pfeiffer and parallel. */
  activation?: 'relu' | 'gelu' | 'silu';
  /** Parallel adapters' output scale (AdapterHub's ParBn: 4.0). */
  scaling?: number;
  dropout?: number;
  seed?: number;
}

export function bottleneckDefaults(c: BottleneckConfig): Required<Omit<BottleneckConfig, 'size'>> & { size?: number } {
  const v = c.variant;
  if (v === 'mql5-stacked') {
    // Fixed by the article: bottleneck 64, ReLU, dropout 0.1 (size may still be overridden for tiny tests).
    return { variant: v, reductionFactor: 0, size: c.size ?? 64, activation: 'relu', scaling: 1, dropout: c.dropout ?? 0.1, seed: c.seed ?? 0 };
  }
  return {
    variant: v,
    reductionFactor: c.reductionFactor ?? (v === 'parallel' ? 2 : 16),
    size: c.size,
    activation: c.activation ?? (v === 'houlsby' ? 'silu' : 'relu'),
    scaling: c.scaling ?? (v === 'parallel' ? 4 : 1),
    dropout: c.dropout ?? 0,
    seed: c.seed ?? 0,
  };
}
