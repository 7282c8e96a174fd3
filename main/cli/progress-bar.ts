/** A one-line progress bar for TTYs; plain log lines otherwise (CI logs, pipes). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function renderBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%`;
}

export class ProgressReporter {
  private lastLine = 0;
  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly label: string,
  ) {}

  update(done: number, total: number, etaMs: number, extra = ''): void {
    const text = `${this.label} ${renderBar(done, total)} ${done}/${total} ETA ${formatDuration(etaMs)}${extra ? ` ${extra}` : ''}`;
    if (this.out.isTTY) {
      this.out.write(`\r${text}\x1b[K`);
    } else if (done === total || Date.now() - this.lastLine > 2000) {
      this.lastLine = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  finish(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}
