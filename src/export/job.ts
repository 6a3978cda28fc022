/**
 * `fintune export job`: a self-contained Python project that reproduces a fintune fine-tuning run with Hugging
 * Face Transformers + PEFT on GPUs, launched by `accelerate launch` (multi-GPU, multi-node, DeepSpeed ZeRO-2/3)
 * or `torchrun`. fintune hands the big runs to the engines built for them; it schedules nothing itself.
 *
 * The project holds exactly the examples fintune trained on (token ids and target-aligned labels, -100 =
 * ignored) and computes the same loss (mean cross-entropy over scored tokens), with the same hyper-parameters
 * and seed. After training it writes its generations (and, for price windows stored in raw units, forecasts) in
 * fintune's JSONL formats, so `fintune import` brings the results back for evaluation and back-tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { writeFileAtomic } from '../io/atomic.js';

/** One training example exactly as fintune batches it. */
export interface JobExample {
  input_ids: number[];
  /** Target-aligned: labels[t] is the target of position t; -100 = not scored. */
  labels: number[];
}

/** A held-out prompt to generate from after training (forecast windows, FinGPT prompts). */
export interface JobTestItem {
  id: string;
  prompt_ids: number[];
  max_new_tokens: number;
  /** For price windows: what the forecast file needs. `decode.kind` 'raw' means the text is in price units. */
  instrument?: string;
  t0?: string;
  context?: number[];
  true?: number[];
  decode?: { kind: 'raw' | 'fintune'; separator?: string; horizon?: number };
}

export type JobMethod =
  | { name: 'full' }
  | { name: 'bitfit' }
  | {
      name: 'lora' | 'qlora';
      r: number;
      loraAlpha: number;
      loraDropout?: number;
      targetModules: string[] | string;
      useRslora?: boolean;
      useDora?: boolean;
      bias?: 'none' | 'all' | 'lora_only';
      modulesToSave?: string[];
      fanInFanOut?: boolean;
    }
  | { name: 'ia3'; targetModules: string[]; feedforwardModules: string[]; fanInFanOut?: boolean }
  | { name: 'prefix'; numVirtualTokens: number; prefixProjection?: boolean; encoderHiddenSize?: number }
  | { name: 'prompt'; numVirtualTokens: number; initText?: string | null }
  | { name: string; [k: string]: unknown };

export interface JobSpec {
  name: string;
  /** A Hugging Face model id or a path the cluster can read (written to base_model_name_or_path). */
  baseModel: string;
  method: JobMethod;
  training: {
    lr: number;
    maxSteps?: number;
    epochs?: number;
    batchSize: number;
    gradAccum: number;
    schedule: 'constant' | 'linear' | 'cosine';
    warmupSteps: number;
    weightDecay: number;
    clipGradNorm: number;
    seed: number;
    betas?: [number, number];
    eps?: number;
  };
  data: { train: JobExample[]; val: JobExample[]; test?: JobTestItem[] };
  launcher?: { kind: 'accelerate' | 'torchrun'; zeroStage?: 2 | 3; numMachines?: number; gpusPerMachine?: number };
  /** Where this came from (run folder, fintune version), recorded in job.json. */
  provenance?: Record<string, unknown>;
}

/** Methods without a PEFT equivalent: the job refuses them (fintune trains them locally). */
export const METHODS_WITHOUT_PEFT = ['houlsby', 'pfeiffer', 'parallel', 'mql5-stacked'];

export const PINNED_REQUIREMENTS = [
  'torch==2.5.1',
  'transformers==4.46.3',
  'peft==0.13.2',
  'accelerate==1.1.1',
  'deepspeed==0.15.4',
  'bitsandbytes==0.44.1',
  'safetensors==0.4.5',
  'sentencepiece==0.2.0',
];

/** The PEFT config (class name and keyword arguments) for a method, or null for full / BitFit training. */
export function peftConfigFor(method: JobMethod): { cls: string; kwargs: Record<string, unknown> } | null {
  const m = method as Record<string, unknown> & { name: string };
  switch (m.name) {
    case 'full':
    case 'bitfit':
      return null;
    case 'lora':
    case 'qlora': {
      const kw: Record<string, unknown> = {
        task_type: 'CAUSAL_LM',
        r: m.r,
        lora_alpha: m.loraAlpha,
        lora_dropout: m.loraDropout ?? 0,
        target_modules: m.targetModules,
        bias: m.bias ?? 'none',
        use_rslora: m.useRslora ?? false,
        use_dora: m.useDora ?? false,
      };
      if (m.fanInFanOut !== undefined) kw.fan_in_fan_out = m.fanInFanOut;
      if (m.modulesToSave) kw.modules_to_save = m.modulesToSave;
      return { cls: 'LoraConfig', kwargs: kw };
    }
    case 'ia3':
      return {
        cls: 'IA3Config',
        kwargs: { task_type: 'CAUSAL_LM', target_modules: m.targetModules, feedforward_modules: m.feedforwardModules, ...(m.fanInFanOut !== undefined ? { fan_in_fan_out: m.fanInFanOut } : {}) },
      };
    case 'prefix':
      return {
        cls: 'PrefixTuningConfig',
        kwargs: {
          task_type: 'CAUSAL_LM',
          num_virtual_tokens: m.numVirtualTokens,
          prefix_projection: m.prefixProjection ?? false,
          ...(m.encoderHiddenSize ? { encoder_hidden_size: m.encoderHiddenSize } : {}),
        },
      };
    case 'prompt':
      return {
        cls: 'PromptTuningConfig',
        kwargs: m.initText
          ? { task_type: 'CAUSAL_LM', num_virtual_tokens: m.numVirtualTokens, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: m.initText, tokenizer_name_or_path: '__BASE__' }
          : { task_type: 'CAUSAL_LM', num_virtual_tokens: m.numVirtualTokens, prompt_tuning_init: 'RANDOM' },
      };
    default:
      throw new Error(
        `export job: method "${m.name}" has no Hugging Face PEFT equivalent (${METHODS_WITHOUT_PEFT.join(', ')} are fintune-only); ` +
          'train it with fintune, or pick lora, qlora, dora, ia3, prefix, prompt, bitfit or full',
      );
  }
}

export function bitsAndBytesConfig(zeroStage: number): Record<string, unknown> {
  return {
    load_in_4bit: true,
    bnb_4bit_quant_type: 'nf4',
    bnb_4bit_use_double_quant: true,
    bnb_4bit_compute_dtype: 'bfloat16',
    // ZeRO-3 shards parameters and needs the packed 4-bit storage in a float dtype it can partition.
    ...(zeroStage === 3 ? { bnb_4bit_quant_storage: 'bfloat16' } : {}),
  };
}

export function deepspeedConfig(stage: 2 | 3): Record<string, unknown> {
  const zero: Record<string, unknown> = {
    stage,
    overlap_comm: true,
    contiguous_gradients: true,
    reduce_bucket_size: 'auto',
  };
  if (stage === 3) {
    zero.stage3_prefetch_bucket_size = 'auto';
    zero.stage3_param_persistence_threshold = 'auto';
    zero.stage3_gather_16bit_weights_on_model_save = true;
  } else {
    zero.allgather_partitions = true;
    zero.reduce_scatter = true;
  }
  return {
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    bf16: { enabled: 'auto' },
    zero_optimization: zero,
  };
}

export function accelerateConfig(stage: 2 | 3, machines: number, gpus: number): Record<string, unknown> {
  return {
    compute_environment: 'LOCAL_MACHINE',
    distributed_type: 'DEEPSPEED',
    deepspeed_config: { deepspeed_config_file: `ds_zero${stage}.json`, zero3_init_flag: stage === 3 },
    machine_rank: 0,
    main_process_ip: '127.0.0.1',
    main_process_port: 29500,
    mixed_precision: 'bf16',
    num_machines: machines,
    num_processes: machines * gpus,
    rdzv_backend: 'static',
    same_network: true,
    use_cpu: false,
  };
}

export function trainingArguments(spec: JobSpec): Record<string, unknown> {
  const t = spec.training;
  const sched = t.schedule === 'constant' ? (t.warmupSteps > 0 ? 'constant_with_warmup' : 'constant') : t.schedule;
  return {
    output_dir: 'out',
    per_device_train_batch_size: t.batchSize,
    per_device_eval_batch_size: t.batchSize,
    gradient_accumulation_steps: t.gradAccum,
    learning_rate: t.lr,
    weight_decay: t.weightDecay,
    adam_beta1: t.betas?.[0] ?? 0.9,
    adam_beta2: t.betas?.[1] ?? 0.999,
    adam_epsilon: t.eps ?? 1e-8,
    max_grad_norm: t.clipGradNorm,
    ...(t.maxSteps ? { max_steps: t.maxSteps } : { num_train_epochs: t.epochs ?? 1 }),
    lr_scheduler_type: sched,
    warmup_steps: t.warmupSteps,
    logging_steps: 10,
    eval_strategy: 'epoch',
    save_strategy: 'epoch',
    save_total_limit: 2,
    seed: t.seed,
    data_seed: t.seed,
    bf16: true,
    report_to: 'none',
    remove_unused_columns: false,
  };
}

/** Write the job project into `outDir`. Returns the files written (relative to outDir). */
export function writeJob(spec: JobSpec, outDir: string): string[] {
  const stage = spec.launcher?.zeroStage ?? 2;
  const peft = peftConfigFor(spec.method); // throws for fintune-only methods, before anything is written
  if (spec.data.train.length === 0) throw new Error('export job: no training examples');
  for (const [part, list] of [['train', spec.data.train], ['val', spec.data.val]] as const) {
    list.forEach((e, i) => {
      if (e.input_ids.length !== e.labels.length) {
        throw new Error(`export job: ${part} example ${i} has ${e.input_ids.length} ids but ${e.labels.length} labels`);
      }
    });
  }
  fs.mkdirSync(path.join(outDir, 'data'), { recursive: true });
  const files: [string, string][] = [];
  const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  files.push(['data/train.jsonl', jsonl(spec.data.train)]);
  files.push(['data/val.jsonl', jsonl(spec.data.val)]);
  files.push(['data/test.jsonl', jsonl(spec.data.test ?? [])]);
  const job = {
    name: spec.name,
    base_model_name_or_path: spec.baseModel,
    method: spec.method.name,
    peft: peft ? { class: peft.cls, kwargs: peft.kwargs } : null,
    bnb: spec.method.name === 'qlora' ? bitsAndBytesConfig(stage) : null,
    training_arguments: trainingArguments(spec),
    seed: spec.training.seed,
    provenance: spec.provenance ?? {},
  };
  files.push(['job.json', JSON.stringify(job, null, 2) + '\n']);
  files.push(['ds_zero2.json', JSON.stringify(deepspeedConfig(2), null, 2) + '\n']);
  files.push(['ds_zero3.json', JSON.stringify(deepspeedConfig(3), null, 2) + '\n']);
  const machines = spec.launcher?.numMachines ?? 1;
  const gpus = spec.launcher?.gpusPerMachine ?? 8;
  files.push(['accelerate_config.yaml', toYaml(accelerateConfig(stage, machines, gpus))]);
  files.push(['requirements.txt', PINNED_REQUIREMENTS.join('\n') + '\n']);
  files.push(['train.py', TRAIN_PY]);
  files.push(['README.md', readme(spec, stage, machines, gpus)]);
  for (const [rel, text] of files) writeFileAtomic(path.join(outDir, rel), text);
  return files.map(([rel]) => rel);
}

function readme(spec: JobSpec, stage: number, machines: number, gpus: number): string {
  return `# ${spec.name}: a fintune run as a Hugging Face job

Exported by fintune. Method: **${spec.method.name}**, base model: \`${spec.baseModel}\`, seed ${spec.training.seed}.
The data in \`data/\` are exactly the examples fintune trained on (token ids with target-aligned labels; -100 =
not scored), and \`train.py\` computes the same loss: the mean cross-entropy over scored tokens.

## Set-up (on the cluster)

    python -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt

Make the base model reachable: a Hugging Face id the nodes can download, or a local folder (edit
\`base_model_name_or_path\` in \`job.json\`).

## Launch

One node, ${gpus} GPUs, DeepSpeed ZeRO-${stage} through accelerate:

    accelerate launch --config_file accelerate_config.yaml train.py

Several nodes: set \`num_machines\`, \`num_processes\` (machines × GPUs), \`main_process_ip\` and, on each node,
\`machine_rank\` in \`accelerate_config.yaml\`, then run the same command on every node.

With torchrun instead of accelerate (DeepSpeed still used through the Trainer):

    torchrun --nproc_per_node ${gpus} --nnodes ${machines} train.py --deepspeed ds_zero${stage}.json

## Results

\`out/adapter/\` (PEFT adapter) or \`out/model/\` (full fine-tuning), \`out/generations.jsonl\` and, for price
windows in price units, \`out/forecasts.jsonl\` — fintune's own formats. Bring them back with:

    fintune import --job . --out runs/${spec.name}-imported
`;
}

/** The training script. Plain Python 3.9+, no fintune dependency. */
export const TRAIN_PY = `#!/usr/bin/env python3
"""Reproduce a fintune fine-tuning run with Hugging Face Transformers + PEFT (generated by fintune export job).

Reads job.json and data/*.jsonl beside this file. Loss = mean cross-entropy over target-aligned labels (labels[t]
is the target of position t, -100 = not scored), exactly as fintune computes it.
"""
import argparse
import json
import os
import re
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed

HERE = os.path.dirname(os.path.abspath(__file__))
FORECAST_SCHEMA = "fintune.forecast/1"
GENERATION_SCHEMA = "fintune.generation/1"


def read_jsonl(name):
    path = os.path.join(HERE, "data", name)
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{line_no}: not valid JSON ({e})")
    return rows


class Examples(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def make_collate(pad_id):
    def collate(batch):
        width = max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
            labels[i, :n] = torch.tensor(r["labels"], dtype=torch.long)
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


class AlignedLossTrainer(Trainer):
    """Cross-entropy over target-aligned labels (no shift inside the loss, unlike the models' own loss)."""

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        labels = inputs.pop("labels")
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        logits = out.logits
        if logits.shape[1] != labels.shape[1]:  # prompt/prefix tuning prepends virtual tokens
            logits = logits[:, -labels.shape[1]:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
        return (loss, out) if return_outputs else loss


def load_model(job):
    base = job["base_model_name_or_path"]
    kwargs = {"torch_dtype": torch.bfloat16}
    if job.get("bnb"):
        from transformers import BitsAndBytesConfig

        bnb = dict(job["bnb"])
        for key in ("bnb_4bit_compute_dtype", "bnb_4bit_quant_storage"):
            if key in bnb:
                bnb[key] = getattr(torch, bnb[key])
        kwargs["quantization_config"] = BitsAndBytesConfig(**bnb)
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if job["method"] == "bitfit":
        for name, p in model.named_parameters():
            p.requires_grad = name.endswith(".bias")
        if not any(p.requires_grad for p in model.parameters()):
            raise SystemExit(f"bitfit: {base} has no bias parameters to train")
    if job.get("peft"):
        import peft

        if job.get("bnb"):
            model = peft.prepare_model_for_kbit_training(model)
        kw = dict(job["peft"]["kwargs"])
        if kw.get("tokenizer_name_or_path") == "__BASE__":
            kw["tokenizer_name_or_path"] = base
        config = getattr(peft, job["peft"]["class"])(**kw)
        model = peft.get_peft_model(model, config)
        model.print_trainable_parameters()
    return model


NUMBER = re.compile(r"^-?\\d+(\\.\\d+)?$")


def parse_numbers(text, separator, horizon):
    out = []
    for part in text.split(separator):
        part = part.strip()
        if not part:
            continue
        if not NUMBER.match(part):
            break
        out.append(float(part))
        if horizon and len(out) == horizon:
            break
    return out


def write_jsonl(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\\n")
    os.replace(tmp, path)


def generate_results(model, tokenizer, job, out_dir):
    tests = read_jsonl("test.jsonl")
    if not tests:
        return
    model.eval()
    device = next(model.parameters()).device
    generations, forecasts = [], []
    for item in tests:
        ids = torch.tensor([item["prompt_ids"]], dtype=torch.long, device=device)
        t0 = time.time()
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=item["max_new_tokens"], do_sample=False)
        latency = (time.time() - t0) * 1000
        new = out[0, ids.shape[1]:].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        decode = item.get("decode") or {}
        numbers = parse_numbers(text, decode.get("separator", " "), decode.get("horizon"))
        generations.append({
            "schema": GENERATION_SCHEMA, "id": item["id"], "run": job["name"], "model": job["method"],
            "prompt": tokenizer.decode(item["prompt_ids"]), "output": text,
            "parsed": {"numbers": numbers, "token_ids": new}, "parse_ok": bool(numbers),
        })
        if decode.get("kind") == "raw" and "true" in item:
            horizon = len(item["true"])
            forecasts.append({
                "schema": FORECAST_SCHEMA, "run": job["name"], "method": job["method"], "seed": job["seed"],
                "instrument": item.get("instrument", ""), "t0": item.get("t0", ""), "context": item.get("context", []),
                "predicted": numbers[:horizon], "true": item["true"], "parse_ok": len(numbers) >= horizon,
                "latency_ms": latency, "raw": text,
            })
    write_jsonl(os.path.join(out_dir, "generations.jsonl"), generations)
    if forecasts:
        write_jsonl(os.path.join(out_dir, "forecasts.jsonl"), forecasts)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--deepspeed", help="DeepSpeed config (torchrun launches; accelerate passes its own)")
    ap.add_argument("--output-dir", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    with open(os.path.join(HERE, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    set_seed(job["seed"])
    tokenizer = AutoTokenizer.from_pretrained(job["base_model_name_or_path"])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    model = load_model(job)
    targs = dict(job["training_arguments"])
    targs["output_dir"] = args.output_dir
    if args.deepspeed:
        targs["deepspeed"] = args.deepspeed
    train_rows, val_rows = read_jsonl("train.jsonl"), read_jsonl("val.jsonl")
    if not val_rows:
        targs["eval_strategy"] = "no"
    trainer = AlignedLossTrainer(
        model=model,
        args=TrainingArguments(**targs),
        train_dataset=Examples(train_rows),
        eval_dataset=Examples(val_rows) if val_rows else None,
        data_collator=make_collate(pad_id),
    )
    trainer.train()
    if trainer.is_world_process_zero():
        final = os.path.join(args.output_dir, "adapter" if job.get("peft") else "model")
        trainer.model.save_pretrained(final)
        tokenizer.save_pretrained(final)
        generate_results(trainer.model, tokenizer, job, args.output_dir)


if __name__ == "__main__":
    main()
`;
