// The progress bar on stderr: phase, a bar over time or operations, current throughput and errors.
//
// On a terminal it redraws one line in place (at most every 100 ms); elsewhere (a pipe, a CI log) it prints a plain
// line per phase change and at most one a second, and one line when each phase completes (`load   done ...`), so
// logs stay readable and say how long each phase took. A phase is complete when its progress reaches its total. It only formats: the runner decides when
// there is progress (bench/run.ts calls `update`), so the bar never reads a clock itself.
import type { Progress } from './run.js';

const WIDTH = 30;

export function formatProgress(p: Progress, label = ''): string {
  const frac = p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 0;
  const filled = Math.round(frac * WIDTH);
  const bar = '#'.repeat(filled) + '.'.repeat(WIDTH - filled);
  const amount =
    p.unit === 'ms'
      ? `${(p.done / 1000).toFixed(1)}s / ${(p.total / 1000).toFixed(1)}s`
      : `${Math.round(p.done).toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')}`;
  const rate = p.phase === 'run' ? `  ${Math.round(p.opsPerSec).toLocaleString('en-US')} ops/s` : '';
  const errors = p.errors > 0 ? `  ${p.errors} errors` : '';
  return `${label}${p.phase.padEnd(6)} [${bar}] ${amount}${rate}${errors}`;
}

/** The line a completed phase leaves in a log: `run    done  3.0s / 3.0s in 3.00 s  7,172 ops/s`. */
export function formatDone(p: Progress, label = ''): string {
  const amount =
    p.unit === 'ms' ? `${(p.total / 1000).toFixed(1)}s / ${(p.total / 1000).toFixed(1)}s` : `${p.total.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')}`;
  const rate = p.phase === 'run' ? `  ${Math.round(p.opsPerSec).toLocaleString('en-US')} ops/s` : '';
  const errors = p.errors > 0 ? `  ${p.errors} errors` : '';
  return `${label}${p.phase.padEnd(6)} done  ${amount} in ${(p.elapsedMs / 1000).toFixed(2)} s${rate}${errors}`;
}

const isComplete = (p: Progress): boolean => p.total > 0 && p.done >= p.total;

export class ProgressBar {
  private lastPhase = '';
  private lastPlainMs = -Infinity;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly label = '',
    private readonly isTty = Boolean((out as NodeJS.WriteStream).isTTY),
  ) {}

  update(p: Progress): void {
    const line = formatProgress(p, this.label);
    if (this.isTty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    if (isComplete(p)) {
      this.out.write(`${formatDone(p, this.label)}\n`);
      this.lastPhase = p.phase;
      this.lastPlainMs = p.elapsedMs;
      return;
    }
    if (p.phase !== this.lastPhase || p.elapsedMs - this.lastPlainMs >= 1000) {
      this.out.write(`${line}\n`);
      this.lastPhase = p.phase;
      this.lastPlainMs = p.elapsedMs;
    }
  }

  /** Ends the bar's line so the table starts on a fresh one. */
  done(): void {
    if (this.isTty && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
    this.lastPhase = '';
    this.lastPlainMs = -Infinity;
  }
}
