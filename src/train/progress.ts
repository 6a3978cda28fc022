/**
 * Training progress on stderr: a single self-rewriting line on a terminal, plain periodic lines when output is
 * a file or a CI log (where carriage returns would make an unreadable wall of text), nothing when quiet.
 */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'quiet';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export interface ProgressUpdate {
  step: number;
  loss: number;
  tokensPerSec: number;
  valLoss?: number;
  lr?: number;
}

export class Progress {
  readonly mode: 'bar' | 'lines' | 'quiet';
  private startMs = Date.now();
  private startStep: number;
  private lastDraw = 0;
  private drawn = false;
  /** Smoothed tokens/s for display: single steps are noisy (GC pauses, evaluation, checkpoints). */
  private rate = NaN;

  constructor(
    mode: ProgressMode,
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    /** Lines mode: print every this many steps (and on evaluations, and the last step). */
    private readonly every = 10,
    startStep = 0,
  ) {
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
    this.startStep = startStep;
  }

  /** ETA from the average pace of this session (steps before a resume do not count). */
  eta(step: number): number {
    const done = step - this.startStep;
    if (done <= 0) return NaN;
    return ((Date.now() - this.startMs) / 1000 / done) * (this.total - step);
  }

  line(u: ProgressUpdate): string {
    const parts = [
      `step ${u.step}/${this.total}`,
      `loss ${u.loss.toFixed(4)}`,
      ...(u.valLoss !== undefined ? [`val ${u.valLoss.toFixed(4)}`] : []),
      ...(u.lr !== undefined ? [`lr ${u.lr.toExponential(2)}`] : []),
      `${fmtRate(u.tokensPerSec)} tok/s`,
      `ETA ${formatDuration(this.eta(u.step))}`,
    ];
    return parts.join('  ');
  }

  update(u: ProgressUpdate): void {
    if (this.mode === 'quiet') return;
    this.rate = Number.isFinite(this.rate) ? 0.9 * this.rate + 0.1 * u.tokensPerSec : u.tokensPerSec;
    u = { ...u, tokensPerSec: this.rate };
    if (this.mode === 'lines') {
      if (u.step % this.every === 0 || u.valLoss !== undefined || u.step === this.total) this.stream.write(this.line(u) + '\n');
      return;
    }
    // Redraw at most ~10 times a second: writing to a terminal on every fast step costs more than the step.
    const now = Date.now();
    if (now - this.lastDraw < 100 && u.step !== this.total && u.valLoss === undefined) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 90));
    const filled = Math.round((u.step / this.total) * width);
    const bar = '[' + '#'.repeat(filled) + '.'.repeat(width - filled) + ']';
    this.stream.write(`\r\x1b[2K${bar} ${this.line(u)}`);
    this.drawn = true;
  }

  /** A message on its own line (the bar, if any, is redrawn by the next update). */
  message(s: string): void {
    if (this.mode === 'quiet') return;
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(s + '\n');
    this.drawn = false;
  }

  done(): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
