import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { byteLevelFamilyJson, byteLevelTokenizerJson, removeDir, writeTokenizerDir } from './tokenizer_fixtures.js';

const dirs: string[] = [];
function dirWith(files: Record<string, unknown>): string {
  const d = writeTokenizerDir(files);
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach(removeDir));

// Ids (tokenizer_fixtures.ts): a byte is its own value; 257 "hel", 258 "lo", 262 "Ġwor", 263 "ld", 264 "34";
// specials at 265–267.
const HEL = 257, LO = 258, GWOR = 262, LD = 263, T34 = 264;
const c = (s: string): number[] => [...Buffer.from(s, 'utf8')];

describe('Llama-3 layout (regex Split + byte-level, BOS template)', () => {
  const dir = dirWith({
    'tokenizer.json': byteLevelFamilyJson('llama3'),
    'tokenizer_config.json': {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: '<|begin_of_text|>',
      eos_token: '<|eot_id|>',
      chat_template:
        "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}",
    },
    'generation_config.json': { bos_token_id: 265, eos_token_id: [266, 267] },
  });
  const tok = loadTokenizer(dir);

  it('splits digits in groups of three before merging', () => {
    // "12345" → "123" | "45": the merge "3 4" cannot apply across the two pieces.
    expect(tok.encode('12345', { addSpecialTokens: false })).toEqual(c('12345'));
    // "3456" → "345" | "6": inside "345" it does.
    expect(tok.encode('3456', { addSpecialTokens: false })).toEqual([T34, ...c('56')]);
    // GPT-2's split keeps the run of digits together, so "12345" does merge there.
    const gpt2Json = byteLevelTokenizerJson() as any;
    gpt2Json.model.vocab['34'] = 265;
    gpt2Json.model.merges.push('3 4');
    const gpt2 = loadTokenizer(dirWith({ 'tokenizer.json': gpt2Json }));
    expect(gpt2.encode('12345')).toEqual([...c('12'), 265, ...c('5')]);
  });

  it('adds <|begin_of_text|> as its post-processor says, and merges words as in GPT-2', () => {
    expect(tok.encode('hello world')).toEqual([265, HEL, LO, GWOR, LD]);
    expect(tok.encode('hello world', { addSpecialTokens: false })).toEqual([HEL, LO, GWOR, LD]);
    expect(tok.decode(tok.encode('hello world'), { skipSpecialTokens: true })).toBe('hello world');
    for (const s of ["I'LL pay 1,234.56 USD!\n\n  ok", 'naïve café 😀', '\t\r\n x']) {
      expect(tok.decode(tok.encode(s, { addSpecialTokens: false }))).toBe(s);
    }
  });

  it('declares BOS/EOS from the config files and stops on every generation EOS', () => {
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([265, 267, null]);
    expect(tok.eosIds).toEqual([267, 266]);
    expect(tok.applyChatTemplate([{ role: 'user', content: ' hi ' }])).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>',
    );
  });
});

describe('Qwen2 layout (NFC, one digit per piece, no BOS)', () => {
  const tok = loadTokenizer(
    dirWith({
      'tokenizer.json': byteLevelFamilyJson('qwen2'),
      'tokenizer_config.json': {
        tokenizer_class: 'Qwen2Tokenizer',
        bos_token: null,
        eos_token: '<|im_end|>',
        pad_token: '<|endoftext|>',
        chat_template:
          "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
      },
      'config.json': { bos_token_id: 265, eos_token_id: 265 },
    }),
  );

  it('never merges digits and adds nothing at the start', () => {
    expect(tok.encode('3456')).toEqual(c('3456'));
    expect(tok.encode('hello')).toEqual([HEL, LO]);
  });

  it('normalizes to NFC: a decomposed é encodes as the composed one', () => {
    expect(tok.encode('e\u0301')).toEqual(c('é'));
    expect(tok.encode('é')).toEqual([0xc3, 0xa9]);
  });

  it('keeps bos null as declared, even though config.json names an id', () => {
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([null, 267, 265]);
    // config.json's eos is what transformers' generation would use without a generation_config.json.
    expect(tok.eosIds).toEqual([267, 265]);
  });

  it('renders ChatML and encodes its markers as single special ids', () => {
    const msgs = [{ role: 'user', content: 'hello' }];
    expect(tok.applyChatTemplate(msgs, { addGenerationPrompt: true })).toBe('<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n');
    const ids = tok.encodeChat(msgs, { addGenerationPrompt: true });
    expect(ids).toEqual([266, ...c('user'), 0x0a, HEL, LO, 267, 0x0a, 266, ...c('assistant'), 0x0a]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhello\nassistant\n');
  });
});
