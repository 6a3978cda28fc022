/**
 * Chat templates: the Jinja template a checkpoint ships for turning a list of messages into prompt text,
 * rendered with @huggingface/jinja (the same engine transformers.js uses).
 *
 * Where the template lives, first found wins (as in transformers): `chat_template.jinja` beside the tokenizer
 * (written by recent transformers), else `chat_template` in tokenizer_config.json — a string, or a list of
 * {"name", "template"} (several named templates, "default" being the one used unless another is asked for).
 *
 * The template is parsed on first use rather than at load: a plain fine-tuning run never renders a chat, and
 * should not fail because a template uses a construct the engine lacks. Parse and render errors name the file.
 */
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { describe, fail, isPlainObject, own, readTextIfExists } from './json_file.js';

export interface ChatMessage {
  role: string;
  content: unknown;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the tokens that open the assistant's turn (transformers' add_generation_prompt). Default false. */
  addGenerationPrompt?: boolean;
  /** Which named template, when the checkpoint has several (default: "default", or "tool_use" when tools are given). */
  templateName?: string;
  /** Tool definitions, passed to the template as `tools`. */
  tools?: unknown[];
  /** Any further template variables (e.g. `date_string`, `enable_thinking`). */
  variables?: Record<string, unknown>;
}

export interface ChatTemplateSource {
  file: string;
  key: string | null;
  /** name → template text */
  templates: Map<string, string>;
}

/** Finds the chat template(s) of a tokenizer folder; null when it has none. */
export function findChatTemplates(
  dir: string,
  tokenizerConfigFile: string,
  tokenizerConfig: Record<string, unknown> | undefined,
): ChatTemplateSource | null {
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  const text = readTextIfExists(jinjaFile);
  if (text !== undefined) return { file: jinjaFile, key: null, templates: new Map([['default', text]]) };
  const v = tokenizerConfig === undefined ? undefined : own(tokenizerConfig, 'chat_template');
  if (v === undefined || v === null) return null;
  const templates = new Map<string, string>();
  if (typeof v === 'string') {
    templates.set('default', v);
  } else if (Array.isArray(v)) {
    v.forEach((e, i) => {
      const name = isPlainObject(e) ? own(e, 'name') : undefined;
      const tpl = isPlainObject(e) ? own(e, 'template') : undefined;
      if (typeof name !== 'string' || typeof tpl !== 'string') {
        fail(tokenizerConfigFile, `chat_template[${i}]`, `expected {"name": string, "template": string}, got ${describe(e)}`);
      }
      templates.set(name, tpl);
    });
  } else if (isPlainObject(v)) {
    for (const [name, tpl] of Object.entries(v)) {
      if (typeof tpl !== 'string') fail(tokenizerConfigFile, `chat_template.${name}`, `expected a string, got ${describe(tpl)}`);
      templates.set(name, tpl);
    }
  } else {
    fail(tokenizerConfigFile, 'chat_template', `expected a string or a list of named templates, got ${describe(v)}`);
  }
  return { file: tokenizerConfigFile, key: 'chat_template', templates };
}

/** Renders messages through one of the templates; parsed templates are cached per name. */
export class ChatTemplates {
  private readonly parsed = new Map<string, Template>();

  constructor(
    readonly source: ChatTemplateSource,
    /** bos_token, eos_token, … as strings, given to every template as transformers does. */
    private readonly specialVariables: Record<string, string>,
  ) {}

  get names(): string[] {
    return [...this.source.templates.keys()];
  }

  render(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const { file, key } = this.source;
    const name = opts.templateName ?? (opts.tools !== undefined && this.source.templates.has('tool_use') ? 'tool_use' : 'default');
    const text = this.source.templates.get(name);
    if (text === undefined) {
      fail(file, key, `no chat template named ${JSON.stringify(name)} (available: ${this.names.join(', ')})`);
    }
    const where = key === null ? name : this.source.templates.size === 1 ? key : `${key}[${JSON.stringify(name)}]`;
    let tpl = this.parsed.get(name);
    if (tpl === undefined) {
      try {
        tpl = new Template(text);
      } catch (err) {
        fail(file, where, `chat template does not parse: ${(err as Error).message}`);
      }
      this.parsed.set(name, tpl);
    }
    if (!Array.isArray(messages)) throw new Error(`applyChatTemplate: messages must be an array, got ${describe(messages)}`);
    messages.forEach((m, i) => {
      if (!isPlainObject(m) || typeof m.role !== 'string') {
        throw new Error(`applyChatTemplate: messages[${i}] must be an object with a string "role", got ${describe(m)}`);
      }
    });
    try {
      return tpl.render({
        ...this.specialVariables,
        ...(opts.tools !== undefined ? { tools: opts.tools } : {}),
        ...opts.variables,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      });
    } catch (err) {
      // raise_exception(...) in a template (e.g. "Conversation roles must alternate") lands here too.
      return fail(file, where, `chat template failed: ${(err as Error).message}`);
    }
  }
}
