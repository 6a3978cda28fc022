import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { FIXTURES } from '../helpers/paths.js';
import {
  BL_EOT,
  byteLevelTokenizerJson,
  gpt2Files,
  removeDir,
  writeTokenizerDir,
} from './tokenizer_fixtures.js';

const dirs: string[] = [];
function dirWith(files: Record<string, unknown>): string {
  const d = writeTokenizerDir(files);
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach(removeDir));

// Ids of the byte-level fixture: a single byte is its own value; merges from 256 (see tokenizer_fixtures.ts).
const h = 0x68, e = 0x65, l = 0x6c, o = 0x6f, w = 0x77, d = 0x64, SP = 0x20, NL = 0x0a;
const HE = 256, HEL = 257, LO = 258, OR = 260, GWOR = 262, LD = 263;

describe('byte-level BPE tokenizer.json', () => {
  const dir = dirWith({ 'tokenizer.json': byteLevelTokenizerJson() });
  const tok = loadTokenizer(dir);

  it('applies merges by rank, worked by hand', () => {
    // h e l l o: "h e" (rank 0) → he l l o; "he l" (1) → hel l o; "l o" (2) → hel lo.
    expect(tok.encode('hello')).toEqual([HEL, LO]);
    // "Ġhello" is one pre-token; "Ġ h" (rank 3) would apply, but "h e" (rank 0) takes the h first.
    expect(tok.encode(' hello')).toEqual([SP, HEL, LO]);
    // w o r l d: "o r" (4) → w or l d; "l d" (7) → w or ld. (No "w or" merge.)
    expect(tok.encode('world')).toEqual([w, OR, LD]);
    // Ġ w o r l d: "o r" (4), then "Ġ w" (5), then "Ġw or" (6), then "l d" (7) → Ġwor ld.
    expect(tok.encode('hello world')).toEqual([HEL, LO, GWOR, LD]);
    // "he" alone merges once; "hel" needs both merges.
    expect(tok.encode('he')).toEqual([HE]);
    expect(tok.encode('hold')).toEqual([h, o, LD]);
  });

  it('encodes any UTF-8 through bytes and round-trips it exactly', () => {
    // é is C3 A9 in UTF-8; the byte ids are the byte values.
    expect(tok.encode('é')).toEqual([0xc3, 0xa9]);
    expect(tok.encode('\n')).toEqual([NL]);
    for (const s of ['hello world', '  two  spaces ', 'héllo\n\tworld 😀', "I don't know .", '1.10234 1.10251\n', '']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('keeps special tokens whole and can skip them when decoding', () => {
    const ids = tok.encode('hello<|endoftext|>world');
    expect(ids).toEqual([HEL, LO, BL_EOT, w, OR, LD]);
    expect(tok.decode(ids)).toBe('hello<|endoftext|>world');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('helloworld');
    expect(tok.decode([BL_EOT], { skipSpecialTokens: true })).toBe('');
    expect(tok.decode([])).toBe('');
  });

  it('adds nothing for GPT-2 with addSpecialTokens (its post-processor adds no tokens)', () => {
    expect(tok.encode('hello', { addSpecialTokens: true })).toEqual([HEL, LO]);
    expect(tok.encode('hello', { addSpecialTokens: false })).toEqual([HEL, LO]);
  });

  it('maps tokens and ids both ways and reports the vocabulary size', () => {
    expect(tok.vocabSize).toBe(265);
    expect(tok.tokenToId('hel')).toBe(HEL);
    expect(tok.tokenToId('Ġwor')).toBe(GWOR);
    expect(tok.tokenToId('<|endoftext|>')).toBe(BL_EOT);
    expect(tok.tokenToId('nope')).toBeNull();
    expect(tok.idToToken(SP)).toBe('Ġ');
    expect(tok.idToToken(NL)).toBe('Ċ');
    expect(tok.idToToken(265)).toBeNull();
    expect(tok.idToToken(-1)).toBeNull();
    expect(tok.specialIds.has(BL_EOT)).toBe(true);
  });

  it('does not clean up spaces before punctuation unless the config asks', () => {
    expect(tok.decode(tok.encode('a . b'))).toBe('a . b');
    const d2 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'tokenizer_config.json': { clean_up_tokenization_spaces: true } });
    const t2 = loadTokenizer(d2);
    expect(t2.decode(t2.encode('a . b'))).toBe('a. b');
    expect(t2.decode(t2.encode('a . b'), { cleanUpTokenizationSpaces: false })).toBe('a . b');
  });

  it('refuses ids outside the vocabulary when decoding', () => {
    expect(() => tok.decode([265])).toThrow(/265 is not a token id/);
    expect(() => tok.decode([1.5])).toThrow(/not a token id/);
  });
});

describe("GPT-2's vocab.json + merges.txt", () => {
  const filesDir = dirWith(gpt2Files());
  const jsonDir = dirWith({ 'tokenizer.json': byteLevelTokenizerJson() });

  it('gives the same ids as the equivalent tokenizer.json', () => {
    const a = loadTokenizer(filesDir);
    const b = loadTokenizer(jsonDir);
    expect(a.source).toBe('vocab.json+merges.txt');
    expect(b.source).toBe('tokenizer.json');
    for (const s of ['hello world', ' hello', 'héllo\n\nworld<|endoftext|>hello', 'world, 1.2345 -0.5%', '😀 emoji']) {
      expect(a.encode(s)).toEqual(b.encode(s));
      expect(a.decode(a.encode(s))).toBe(s);
    }
    expect(a.encode('hello world')).toEqual([HEL, LO, GWOR, LD]);
    expect(a.vocabSize).toBe(b.vocabSize);
  });

  it("uses GPT2Tokenizer's defaults: <|endoftext|> is BOS, EOS and UNK; no PAD", () => {
    const a = loadTokenizer(filesDir);
    expect([a.bosId, a.eosId, a.unkId, a.padId]).toEqual([BL_EOT, BL_EOT, BL_EOT, null]);
    expect(a.eosIds).toEqual([BL_EOT]);
    expect(a.encode('x<|endoftext|>')).toEqual([0x78, BL_EOT]);
  });

  it('honours add_prefix_space and add_bos_token from tokenizer_config.json', () => {
    const dd = dirWith({ ...gpt2Files(), 'tokenizer_config.json': { add_prefix_space: true, add_bos_token: true } });
    const t = loadTokenizer(dd);
    // "hello" becomes "Ġhello" → Ġ hel lo; BOS (<|endoftext|>) in front.
    expect(t.encode('hello')).toEqual([BL_EOT, SP, HEL, LO]);
    expect(t.encode('hello', { addSpecialTokens: false })).toEqual([SP, HEL, LO]);
  });

  it('names merges.txt and the line for a malformed merge', () => {
    const files = gpt2Files();
    const dd = dirWith({ ...files, 'merges.txt': files['merges.txt'] + 'a b c\n' });
    expect(() => loadTokenizer(dd)).toThrow(/merges\.txt: line 10: expected two tokens/);
    const missing = dirWith({ 'vocab.json': files['vocab.json'] });
    expect(() => loadTokenizer(missing)).toThrow(/merges\.txt: not found/);
    const unknown = dirWith({ ...files, 'merges.txt': '#version: 0.2\nq z\n' });
    expect(() => loadTokenizer(unknown)).toThrow(/vocab\.json \+ merges\.txt: key "model\.merges\[0\]": the merged token "qz" is not in model\.vocab/);
  });
});

describe('special tokens as the checkpoint declares them', () => {
  it('reads token strings (plain or AddedToken objects) from tokenizer_config.json', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': {
        bos_token: { __type: 'AddedToken', content: '<|endoftext|>', lstrip: false },
        eos_token: '<|endoftext|>',
        pad_token: null,
      },
      // pad declared absent in the tokenizer config: config.json's pad id must not resurrect it.
      'config.json': { pad_token_id: 0 },
    });
    const t = loadTokenizer(dir);
    expect([t.bosId, t.eosId, t.padId, t.unkId]).toEqual([BL_EOT, BL_EOT, null, null]);
    expect([t.bosToken, t.eosToken]).toEqual(['<|endoftext|>', '<|endoftext|>']);
  });

  it('lets special_tokens_map.json override tokenizer_config.json', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': { pad_token: '<|endoftext|>' },
      'special_tokens_map.json': { pad_token: { content: 'Ġ', single_word: false } },
    });
    expect(loadTokenizer(dir).padId).toBe(SP);
  });

  it('falls back to generation_config.json, then config.json, and collects every EOS id', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': { eos_token: '<|endoftext|>' },
      'generation_config.json': { bos_token_id: 10, eos_token_id: [BL_EOT, 13] },
      'config.json': { bos_token_id: 11, eos_token_id: 12, pad_token_id: 14 },
    });
    const t = loadTokenizer(dir);
    expect(t.bosId).toBe(10); // generation_config wins over config.json
    expect(t.bosToken).toBe('Ċ');
    expect(t.eosId).toBe(BL_EOT);
    // The tokenizer's EOS, then generation_config's list; config.json's eos is superseded by generation_config.
    expect(t.eosIds).toEqual([BL_EOT, 13]);
    expect(t.padId).toBe(14);

    const dir2 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'config.json': { eos_token_id: [BL_EOT, 12], pad_token_id: -1 } });
    const t2 = loadTokenizer(dir2);
    expect(t2.eosId).toBe(BL_EOT);
    expect(t2.eosIds).toEqual([BL_EOT, 12]);
    expect(t2.padId).toBeNull(); // -1 is the old "no pad" marker
  });

  it('names the file and key of a special token that is not in the vocabulary or malformed', () => {
    const dir = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'tokenizer_config.json': { pad_token: '<pad>' } });
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_config\.json: key "pad_token": "<pad>" is not in the tokenizer's vocabulary/);
    const dir2 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'special_tokens_map.json': { eos_token: 7 } });
    expect(() => loadTokenizer(dir2)).toThrow(/special_tokens_map\.json: key "eos_token": expected a token string/);
    const dir3 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'generation_config.json': { eos_token_id: [BL_EOT, 999] } });
    expect(() => loadTokenizer(dir3)).toThrow(/generation_config\.json: key "eos_token_id\[1\]": token id 999 is outside/);
    const dir4 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'config.json': '{"eos_token_id": ' });
    expect(() => loadTokenizer(dir4)).toThrow(/config\.json: not valid JSON/);
  });
});

describe('chat templates', () => {
  const template =
    '{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}' +
    '{% if add_generation_prompt %}<|assistant|>{% endif %}';
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'EURUSD?' },
  ];

  it('renders tokenizer_config.json chat_template with bos/eos and the generation prompt', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', chat_template: template },
    });
    const t = loadTokenizer(dir);
    expect(t.hasChatTemplate).toBe(true);
    expect(t.applyChatTemplate(messages)).toBe(
      '<|endoftext|><|system|>Be brief.<|endoftext|><|user|>EURUSD?<|endoftext|>',
    );
    expect(t.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<|endoftext|><|system|>Be brief.<|endoftext|><|user|>EURUSD?<|endoftext|><|assistant|>',
    );
    // Tokenized without adding special tokens on top; the template's own <|endoftext|> text is the special id.
    const ids = t.encodeChat([{ role: 'user', content: 'hello' }]);
    expect(ids.slice(0, 1)).toEqual([BL_EOT]);
    expect(ids.slice(-3)).toEqual([HEL, LO, BL_EOT]);
  });

  it('prefers chat_template.jinja, supports named templates and passes variables', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': {
        chat_template: [
          { name: 'default', template: 'D{{ messages | length }}' },
          { name: 'tool_use', template: 'T{{ tools | length }}{{ today }}' },
        ],
      },
    });
    const t = loadTokenizer(dir);
    expect(t.chatTemplateNames).toEqual(['default', 'tool_use']);
    expect(t.applyChatTemplate(messages)).toBe('D2');
    expect(t.applyChatTemplate(messages, { tools: [{}, {}, {}], variables: { today: '23 Nov' } })).toBe('T323 Nov');
    expect(() => t.applyChatTemplate(messages, { templateName: 'rag' })).toThrow(/no chat template named "rag" \(available: default, tool_use\)/);

    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), 'J{{ messages[0].role }}');
    expect(loadTokenizer(dir).applyChatTemplate(messages)).toBe('Jsystem');
  });

  it('names the file for templates that fail, and says when there is none', () => {
    const dir = dirWith({
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': {
        chat_template: "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok",
      },
    });
    const t = loadTokenizer(dir);
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('ok');
    expect(() => t.applyChatTemplate(messages)).toThrow(/tokenizer_config\.json: key "chat_template": chat template failed: first message must be from the user/);

    const bad = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'tokenizer_config.json': { chat_template: '{% for %}' } });
    expect(() => loadTokenizer(bad).applyChatTemplate(messages)).toThrow(/tokenizer_config\.json: key "chat_template": chat template does not parse/);

    const none = loadTokenizer(dirWith({ 'tokenizer.json': byteLevelTokenizerJson() }));
    expect(none.hasChatTemplate).toBe(false);
    expect(() => none.applyChatTemplate(messages)).toThrow(/has no chat template/);
  });
});

describe('missing and malformed files', () => {
  it('names the folder when there is no tokenizer at all', () => {
    const empty = dirWith({});
    expect(() => loadTokenizer(empty)).toThrow(/no tokenizer found: expected tokenizer\.json, or vocab\.json \+ merges\.txt/);
    // The shared model fixtures are driven by ids: they have a config.json and no tokenizer.
    expect(() => loadTokenizer(path.join(FIXTURES, 'gpt2-tiny'))).toThrow(/gpt2-tiny: no tokenizer found/);
    const sp = dirWith({ 'tokenizer.model': 'x' });
    expect(() => loadTokenizer(sp)).toThrow(/tokenizer\.model alone/);
    expect(() => loadTokenizer(path.join(empty, 'nope'))).toThrow(/tokenizer folder not found/);
    const d = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'notes.txt': 'x' });
    expect(loadTokenizer(path.join(d, 'tokenizer.json')).encode('hello')).toEqual([HEL, LO]);
    expect(() => loadTokenizer(path.join(d, 'notes.txt'))).toThrow(/notes\.txt: expected a folder holding tokenizer\.json/);
  });

  it('names tokenizer.json and the key at fault', () => {
    const cases: [(j: any) => void, RegExp][] = [
      [(j) => delete j.model, /tokenizer\.json: required key "model" is missing/],
      [(j) => (j.version = '2.0'), /tokenizer\.json: key "version": expected "1\.0"/],
      [(j) => (j.model.type = 'WordLevel'), /key "model\.type": model type "WordLevel" is not supported/],
      [(j) => (j.model.vocab.hel = -3), /key "model\.vocab\.hel": expected a token id/],
      [(j) => (j.model.vocab.hel = 256), /key "model\.vocab": id 256 is given to both "he" and "hel"/],
      [(j) => (j.model.merges[2] = 'l  o'), /key "model\.merges\[2\]": expected two tokens separated by one space/],
      [(j) => j.model.merges.push('q z'), /key "model\.merges\[8\]": the merged token "qz" is not in model\.vocab/],
      [(j) => (j.model.unk_token = '<unk>'), /key "model\.unk_token": "<unk>" is not in model\.vocab/],
      [(j) => (j.added_tokens[0].id = 5), /key "added_tokens\[0\]\.id": id 5 is already "ą" in model\.vocab/],
      [(j) => (j.added_tokens = {}), /key "added_tokens": expected an array/],
      [(j) => delete j.added_tokens[0].rstrip, /key "added_tokens\[0\]\.rstrip": expected true or false, got nothing/],
      [(j) => (j.model.end_of_word_suffix = '</w>'), /key "model\.end_of_word_suffix": a non-empty end_of_word_suffix \("<\/w>"\) is not reproduced/],
      [(j) => (j.padding = 7), /key "padding": expected an object or null/],
      [(j) => (j.pre_tokenizer.type = 'UnicodeScripts'), /key "pre_tokenizer\.type": pre_tokenizer type "UnicodeScripts" is not supported/],
      [(j) => (j.pre_tokenizer.add_prefix_space = 'yes'), /key "pre_tokenizer\.add_prefix_space": expected true or false/],
      [
        (j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'FixedLength', length: 0 }] }),
        /key "pre_tokenizer\.pretokenizers\[0\]\.length": expected a positive integer/,
      ],
      [
        (j) => (j.pre_tokenizer = { type: 'Split', pattern: { Regex: '\\s' }, behavior: 'MergedWithNext', invert: false }),
        /key "pre_tokenizer\.behavior": MergedWithNext is not reproduced/,
      ],
      [(j) => (j.decoder = { type: 'Strip', content: ' ', start: 1 }), /key "decoder\.stop": is required/],
      [(j) => (j.model.dropout = 0.1), /key "model\.dropout": BPE dropout 0\.1 is not supported/],
      [
        (j) => {
          const single = [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }];
          j.post_processor = { type: 'TemplateProcessing', single, pair: single, special_tokens: {} };
        },
        /key "post_processor\.single\[0\]\.SpecialToken\.id": "<s>" is not declared/,
      ],
    ];
    for (const [mutate, re] of cases) {
      const j = byteLevelTokenizerJson();
      mutate(j);
      const dir = dirWith({ 'tokenizer.json': j });
      expect(() => loadTokenizer(dir), String(re)).toThrow(re);
      try {
        loadTokenizer(dir);
      } catch (err) {
        expect((err as Error).message.startsWith(path.join(dir, 'tokenizer.json'))).toBe(true);
      }
    }
  });

  it('names tokenizer.json for truncated JSON and for a top level that is not an object', () => {
    const text = JSON.stringify(byteLevelTokenizerJson());
    const dir = dirWith({ 'tokenizer.json': text.slice(0, 100) });
    expect(() => loadTokenizer(dir)).toThrow(new RegExp(`^${path.join(dir, 'tokenizer.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
    const dir2 = dirWith({ 'tokenizer.json': '[1,2]' });
    expect(() => loadTokenizer(dir2)).toThrow(/tokenizer\.json: expected a JSON object at the top level/);
    const dir3 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'tokenizer_config.json': '"x"' });
    expect(() => loadTokenizer(dir3)).toThrow(/tokenizer_config\.json: expected a JSON object/);
    const dir4 = dirWith({ 'tokenizer.json': byteLevelTokenizerJson(), 'tokenizer_config.json': { add_bos_token: 'yes' } });
    expect(() => loadTokenizer(dir4)).toThrow(/tokenizer_config\.json: key "add_bos_token": expected true or false/);
  });

  it('drops text a BPE without unk token cannot represent, as the Rust library does', () => {
    const j = byteLevelTokenizerJson() as any;
    // A byte-level model missing the byte for "z", with no unk token: "z" has no id and is left out.
    delete j.model.vocab['z'];
    const t = loadTokenizer(dirWith({ 'tokenizer.json': j }));
    expect(t.encode('hello')).toEqual([HEL, LO]);
    expect(t.encode('zz')).toEqual([]);
    expect(t.encode('hezlo')).toEqual([HE, LO]);
  });
});
