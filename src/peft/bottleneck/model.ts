/**
 * Placing bottleneck adapters in a model: Houlsby wraps every block's attention and MLP, Pfeiffer the MLP,
 * parallel the MLP side by side. `mql5-stacked` chains n_layer adapters on the final hidden state through an
 * instance-level `hidden()` (the model classes are unchanged) and trains the whole base with them.
 */
import type { CausalLM, ForwardOptions } from '../../models/common.js';
import { blocks, dims, freezeAll, getModule, replaceModule } from '../common.js';
import { peftState, registerAdapter, setAdapter } from '../state.js';
import { bottleneckDefaults, type BottleneckConfig } from './config.js';
import { BottleneckAdapter, BottleneckWrapper } from './layer.js';
import type { Tensor } from '../../tensor/tensor.js';

function dtypeOf(model: CausalLM): 'f32' | 'f64' {
  return model.parameters()[0]?.dtype === 'f64' ? 'f64' : 'f32';
}

export function injectBottleneck(model: CausalLM, c: BottleneckConfig, name = 'default'): void {
  const o = bottleneckDefaults(c);
  const d = dims(model);
  const size = o.size ?? Math.max(1, Math.floor(d.hidden / o.reductionFactor));
  const first = peftState(model).adapters.size === 0;
  registerAdapter(model, name, { method: o.variant, config: o });
  if (o.variant === 'mql5-stacked') {
    model.requiresGrad_(true);
    const stack = Array.from(
      { length: d.layers },
      (_, i) => new BottleneckAdapter(d.hidden, size, 'relu', o.dropout, { seed: o.seed, stream: `mql5:${name}:${i}`, upInit: 'normal', dtype: dtypeOf(model) }),
    );
    addMql5Stack(model, name, stack);
    setAdapter(model, name);
    return;
  }
  if (first) freezeAll(model);
  const places: [string, 'after' | 'parallel'][] = [];
  for (const b of blocks(model)) {
    if (o.variant === 'houlsby') places.push([`${b.path}.${b.attn}`, 'after']);
    places.push([`${b.path}.${b.mlp}`, o.variant === 'parallel' ? 'parallel' : 'after']);
  }
  for (const [path, placement] of places) {
    const m = getModule(model, path);
    let w: BottleneckWrapper;
    if (m instanceof BottleneckWrapper) {
      if (m.placement !== placement) throw new Error(`bottleneck: ${path} already holds ${m.placement} adapters; cannot add ${placement} ones`);
      w = m;
    } else {
      w = new BottleneckWrapper(m, placement, o.scaling);
      replaceModule(model, path, w);
    }
    w.adapters.set(name, new BottleneckAdapter(d.hidden, size, o.activation, o.dropout, { seed: o.seed, stream: `bn:${name}:${path}`, upInit: 'zero', dtype: dtypeOf(model) }));
    w.activeAdapters.push(name);
  }
  setAdapter(model, name);
}

/**
 * Add an mql5-stacked adapter. Each stack is an own array property `mql5_<name>` of the model, so its
 * parameters are the model's (`mql5_default.0.adapter_down.weight`); the first call also installs the
 * instance-level `hidden()` that runs the active stack on the final hidden state.
 */
function addMql5Stack(model: CausalLM, name: string, stack: BottleneckAdapter[]): void {
  const m = model as unknown as Record<string, unknown>;
  if (!m.mql5_stacks) {
    Object.defineProperty(m, 'mql5_stacks', { value: true, enumerable: false });
    const prev = model.hidden.bind(model);
    Object.defineProperty(model, 'hidden', {
      enumerable: false,
      configurable: true,
      writable: true,
      value: (ids: Tensor | null, opts: ForwardOptions = {}): Tensor => {
        let h = prev(ids, opts);
        const active = peftState(model).active[0];
        const chain = active ? (m[`mql5_${active}`] as BottleneckAdapter[] | undefined) : undefined;
        // Each adapter adds dropout(up(dropout(relu(down(h))))) to h, one after another.
        for (const a of chain ?? []) h = h.add(a.forward(h));
        return h;
      },
    });
  }
  m[`mql5_${name}`] = stack;
}
