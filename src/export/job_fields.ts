/**
 * Field names the exported job may write into each configuration, taken from the documentation of the tools that
 * read them (Hugging Face PEFT's config classes, transformers' BitsAndBytesConfig and TrainingArguments,
 * accelerate's `accelerate config` YAML, DeepSpeed's JSON configuration). A test checks every generated config
 * against these lists, so a typo or an invented option cannot reach a cluster.
 */

export const PEFT_FIELDS: Record<string, readonly string[]> = {
  LoraConfig: [
    'task_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'fan_in_fan_out', 'bias', 'use_rslora',
    'use_dora', 'modules_to_save', 'init_lora_weights', 'layers_to_transform', 'rank_pattern', 'alpha_pattern',
  ],
  IA3Config: ['task_type', 'target_modules', 'feedforward_modules', 'fan_in_fan_out', 'modules_to_save', 'init_ia3_weights'],
  PrefixTuningConfig: ['task_type', 'num_virtual_tokens', 'prefix_projection', 'encoder_hidden_size', 'token_dim', 'num_layers', 'num_attention_heads'],
  PromptTuningConfig: ['task_type', 'num_virtual_tokens', 'prompt_tuning_init', 'prompt_tuning_init_text', 'tokenizer_name_or_path', 'token_dim'],
};

export const BNB_FIELDS: readonly string[] = [
  'load_in_4bit', 'load_in_8bit', 'bnb_4bit_quant_type', 'bnb_4bit_use_double_quant', 'bnb_4bit_compute_dtype',
  'bnb_4bit_quant_storage',
];

export const TRAINING_ARGUMENT_FIELDS: readonly string[] = [
  'output_dir', 'per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps',
  'learning_rate', 'weight_decay', 'adam_beta1', 'adam_beta2', 'adam_epsilon', 'max_grad_norm', 'num_train_epochs',
  'max_steps', 'lr_scheduler_type', 'warmup_steps', 'logging_steps', 'eval_strategy', 'eval_steps', 'save_strategy',
  'save_steps', 'save_total_limit', 'seed', 'data_seed', 'bf16', 'fp16', 'deepspeed', 'report_to',
  'remove_unused_columns', 'gradient_checkpointing', 'dataloader_num_workers', 'ddp_find_unused_parameters',
  'load_best_model_at_end', 'metric_for_best_model', 'greater_is_better', 'optim',
];

export const ACCELERATE_FIELDS: readonly string[] = [
  'compute_environment', 'debug', 'deepspeed_config', 'distributed_type', 'downcast_bf16', 'machine_rank',
  'main_process_ip', 'main_process_port', 'main_training_function', 'mixed_precision', 'num_machines',
  'num_processes', 'rdzv_backend', 'same_network', 'tpu_env', 'tpu_use_cluster', 'tpu_use_sudo', 'use_cpu',
];
export const ACCELERATE_DEEPSPEED_FIELDS: readonly string[] = ['deepspeed_config_file', 'zero3_init_flag', 'deepspeed_multinode_launcher'];

export const DEEPSPEED_FIELDS: readonly string[] = [
  'train_batch_size', 'train_micro_batch_size_per_gpu', 'gradient_accumulation_steps', 'gradient_clipping',
  'steps_per_print', 'wall_clock_breakdown', 'bf16', 'fp16', 'zero_optimization', 'zero_allow_untested_optimizer',
];
export const DEEPSPEED_ZERO_FIELDS: readonly string[] = [
  'stage', 'overlap_comm', 'contiguous_gradients', 'reduce_bucket_size', 'reduce_scatter', 'allgather_partitions',
  'allgather_bucket_size', 'offload_optimizer', 'offload_param', 'stage3_prefetch_bucket_size',
  'stage3_param_persistence_threshold', 'stage3_max_live_parameters', 'stage3_max_reuse_distance',
  'stage3_gather_16bit_weights_on_model_save', 'sub_group_size',
];
export const DEEPSPEED_PRECISION_FIELDS: readonly string[] = ['enabled'];
