// A progress line for long work (training, table building): rate, ETA, and free-form fields.
// Writes to stderr; on a non-TTY (CI, logs) it prints at most one line every `intervalMs`.

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
  quiet?: boolean;
}

export class ProgressBar {
  private done = 0;
  private readonly startedAt = Date.now();
  private lastDrawAt = 0;
  private readonly options: Required<Omit<ProgressOptions, 'stream'>> & { stream: NodeJS.WriteStream };

  constructor(options: ProgressOptions) {
    const stream = options.stream ?? process.stderr;
    this.options = {
      unit: 'items',
      intervalMs: stream.isTTY ? 100 : 10_000,
      quiet: false,
      ...options,
      stream,
    };
  }

  tick(amount = 1, fields: Record<string, string | number> = {}): void {
    this.done += amount;
    const now = Date.now();
    if (now - this.lastDrawAt >= this.options.intervalMs || this.done >= this.options.total) {
      this.lastDrawAt = now;
      this.draw(fields);
    }
  }

  private draw(fields: Record<string, string | number>): void {
    if (this.options.quiet) return;
    const { total, label, unit, stream } = this.options;
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const remaining = rate > 0 ? (total - this.done) / rate : Infinity;
    const share = total > 0 ? Math.min(1, this.done / total) : 1;
    const width = 24;
    const filled = Math.round(share * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const extra = Object.entries(fields)
      .map(([key, value]) => `${key} ${typeof value === 'number' ? formatNumber(value) : value}`)
      .join('  ');
    const line = `${label} [${bar}] ${this.done}/${total} ${formatNumber(rate)} ${unit}/s ETA ${formatDuration(remaining)}${extra ? `  ${extra}` : ''}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K${this.done >= total ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  }
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(rest).padStart(2, '0')}s` : `${rest}s`;
}
