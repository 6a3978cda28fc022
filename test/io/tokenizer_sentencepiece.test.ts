import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { llama2StyleTokenizerJson, metaspaceTokenizerJson, removeDir, writeTokenizerDir } from './tokenizer_fixtures.js';

const dirs: string[] = [];
function dirWith(files: Record<string, unknown>): string {
  const d = writeTokenizerDir(files);
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach(removeDir));

// Ids of the SentencePiece-style fixture (see tokenizer_fixtures.ts): byte b is <0xBB> at 3 + b.
const UNK = 0, BOS = 1, EOS = 2;
const META = 259, w = 264, H_ = 267, HELLO_ = 271, OR = 273, LD = 275, WORLD_ = 276;
const byte = (b: number): number => 3 + b;

const llamaConfig = {
  tokenizer_class: 'LlamaTokenizer',
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  add_bos_token: true,
  add_eos_token: false,
  clean_up_tokenization_spaces: false,
};

describe('Llama-2 layout (Prepend/Replace normalizer, byte fallback)', () => {
  const tok = loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': llamaConfig }));

  it('merges "▁hello▁world" by rank into two pieces, after BOS', () => {
    // "▁hello▁world": ▁h (0), ▁he (1), ll (2), ▁hell (3), ▁hello (4), ▁w (5), or (6), ▁wor (7), ld (8), ▁world (9).
    expect(tok.encode('hello world')).toEqual([BOS, HELLO_, WORLD_]);
    expect(tok.encode('hello world', { addSpecialTokens: false })).toEqual([HELLO_, WORLD_]);
    expect([tok.bosId, tok.eosId, tok.unkId, tok.padId]).toEqual([BOS, EOS, UNK, null]);
  });

  it('falls back to UTF-8 bytes for characters outside the vocabulary', () => {
    // "▁hé": ▁ h → ▁h; é is not a piece → its bytes C3 A9.
    expect(tok.encode('hé')).toEqual([BOS, H_, byte(0xc3), byte(0xa9)]);
    expect(tok.decode([BOS, H_, byte(0xc3), byte(0xa9)], { skipSpecialTokens: true })).toBe('hé');
    expect(tok.decode([BOS, HELLO_, WORLD_])).toBe('<s> hello world');
  });

  it('round-trips text, extra spaces included', () => {
    // "  hello" → "▁▁▁hello": the last ▁ merges with h; the first two stay single.
    expect(tok.encode('  hello', { addSpecialTokens: false })).toEqual([META, META, HELLO_]);
    for (const s of ['hello world', '  hello', 'héllo 😀 world', 'world\nhello', '1.10234 1.10251']) {
      expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
    }
  });

  it('prepends ▁ to the text after a special token too (the "legacy" behaviour)', () => {
    expect(tok.encode('hello</s>world')).toEqual([BOS, HELLO_, EOS, WORLD_]);
  });

  it("takes BOS/EOS from add_bos_token / add_eos_token, as transformers' Llama tokenizer does", () => {
    const both = loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': { ...llamaConfig, add_eos_token: true } }));
    expect(both.encode('hello')).toEqual([BOS, HELLO_, EOS]);
    const none = loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': { ...llamaConfig, add_bos_token: false } }));
    expect(none.encode('hello')).toEqual([HELLO_]);
    // Fast class, flags absent: the defaults (BOS yes, EOS no).
    const dflt = { tokenizer_class: 'LlamaTokenizerFast', bos_token: '<s>', eos_token: '</s>' };
    expect(loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': dflt })).encode('hello')).toEqual([BOS, HELLO_]);
    // Another class leaves tokenizer.json's post-processor alone.
    const other = { tokenizer_class: 'PreTrainedTokenizerFast', add_eos_token: true, eos_token: '</s>' };
    expect(loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': other })).encode('hello')).toEqual([BOS, HELLO_]);
    const noBos = { tokenizer_class: 'LlamaTokenizer', bos_token: null, add_bos_token: true };
    expect(() => loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': noBos }))).toThrow(
      /tokenizer_config\.json: key "add_bos_token": is true but no bos_token is declared/,
    );
  });

  it('renders a Mistral-style chat template and tokenizes it without a second BOS', () => {
    const template =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
      "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";
    const t = loadTokenizer(dirWith({ 'tokenizer.json': llama2StyleTokenizerJson(), 'tokenizer_config.json': { ...llamaConfig, chat_template: template } }));
    const msgs = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'bye' },
    ];
    expect(t.applyChatTemplate(msgs)).toBe('<s>[INST] hi [/INST]ok</s>[INST] bye [/INST]');
    const ids = t.encodeChat([{ role: 'assistant', content: 'hello' }]);
    // "<s>" (text → the special id), then "hello" (→ "▁hello" by the Prepend normalizer), then "</s>".
    expect(ids).toEqual([BOS, HELLO_, EOS]);
  });
});

describe('Metaspace pre-tokenizer layout (prepend_scheme "first")', () => {
  for (const split of [false, true]) {
    it(`encodes like the Prepend layout on plain text (split ${split})`, () => {
      const tok = loadTokenizer(dirWith({ 'tokenizer.json': metaspaceTokenizerJson(split), 'tokenizer_config.json': llamaConfig }));
      expect(tok.encode('hello world')).toEqual([BOS, HELLO_, WORLD_]);
      // "first": only the first section gets ▁; after </s>, "world" is w or ld.
      expect(tok.encode('hello</s>world')).toEqual([BOS, HELLO_, EOS, w, OR, LD]);
      for (const s of ['hello world', 'héllo 😀 world', '1.10234 1.10251']) {
        expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
      }
    });
  }

  it('honours split: with split a merge never spans the ▁ that starts a word', () => {
    // Add "▁▁" with the best rank. "hello  world" → "▁hello▁▁world".
    const withSpaces = (split: boolean): Record<string, any> => {
      const j = metaspaceTokenizerJson(split) as any;
      j.model.vocab['▁▁'] = 277;
      j.model.merges = [['▁', '▁'], ...j.model.merges];
      return j;
    };
    // Without split the whole string is one word: ▁▁ (rank 0) takes the two spaces, which leaves "world"
    // without its ▁: ▁hello ▁▁ w or ld.
    const noSplit = loadTokenizer(dirWith({ 'tokenizer.json': withSpaces(false) }));
    expect(noSplit.encode('hello  world', { addSpecialTokens: false })).toEqual([HELLO_, 277, w, OR, LD]);
    // With split (the Rust default), the pieces are "▁hello", "▁", "▁world": ▁▁ can never form.
    const splitting = loadTokenizer(dirWith({ 'tokenizer.json': withSpaces(true) }));
    expect(splitting.encode('hello  world', { addSpecialTokens: false })).toEqual([HELLO_, META, WORLD_]);
    // Files from before the "split" field always split.
    const old = withSpaces(true);
    delete old.pre_tokenizer.split;
    expect(loadTokenizer(dirWith({ 'tokenizer.json': old })).encode('hello  world', { addSpecialTokens: false })).toEqual([HELLO_, META, WORLD_]);
  });
});
