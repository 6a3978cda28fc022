/**
 * Incremental decoding for streaming generation: feed ids one at a time, get back the text each one adds.
 *
 * Why not decode each id alone: a byte-level token can hold part of a UTF-8 character (an emoji is often four
 * tokens), and SentencePiece decoders drop the leading space of the *first* token, so decoding tokens one by one
 * gives replacement characters and lost spaces. Why not re-decode everything each step: that is quadratic.
 *
 * The approach (the one Hugging Face's Rust DecodeStream takes): keep a short window of ids — the last printed
 * token(s) for context, then those not printed yet — and `prefix`, the decoded text of the printed part. On each
 * new id, decode the window; if the text grew past the prefix and does not end in U+FFFD (an incomplete
 * character), the new text is what follows the prefix. The window then restarts at the ids just printed, so each
 * step decodes only a few tokens.
 */
export interface DecodeFn {
  (ids: number[]): string;
}

export class DecodeStream {
  private ids: number[] = [];
  /** Decoded text of ids[0 .. prefixIndex). */
  private prefix = '';
  private prefixIndex = 0;

  constructor(private readonly decode: DecodeFn) {}

  /** Adds one id; returns the text it completes ("" while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.length <= this.prefix.length || text.endsWith('\uFFFD')) return '';
    // The window's text normally extends the prefix. If a decoder rewrote earlier text (space clean-up), what
    // was printed cannot be taken back: print what lies past the old length, as transformers' streamer does.
    const added = text.slice(this.prefix.length);
    const newPrefixIndex = this.ids.length - this.prefixIndex;
    this.ids = this.ids.slice(this.prefixIndex);
    this.prefix = this.decode(this.ids);
    this.prefixIndex = newPrefixIndex;
    return added;
  }

  /** Whatever is still held back at the end of generation (an incomplete character decodes as U+FFFD). */
  flush(): string {
    if (this.ids.length === this.prefixIndex) return '';
    const text = this.decode(this.ids);
    const rest = text.length > this.prefix.length ? text.slice(this.prefix.length) : '';
    this.ids = [];
    this.prefix = '';
    this.prefixIndex = 0;
    return rest;
  }
}
