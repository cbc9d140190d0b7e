import { performance } from 'node:perf_hooks';

/** What one variant measured. Latencies are milliseconds from the call to its acknowledgement. */
export interface RunResult {
  label: string;
  events: number;
  errors: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
}

export interface DriveOptions {
  producers: number;
  /** Stop issuing new calls after this many seconds. */
  seconds: number;
  /** Stop issuing new calls after this many in total. */
  maxEvents: number;
}

/**
 * Runs `producers` async loops in this process; each awaits its call before
 * issuing the next, like request handlers that must not act before the
 * event is durable. Bounded by time and by count; the clock stops when the
 * last in-flight call has been acknowledged.
 */
export async function drive(label: string, call: (n: number) => Promise<unknown>, options: DriveOptions): Promise<RunResult> {
  const latencies = new Float64Array(options.maxEvents);
  let issued = 0;
  let done = 0;
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const deadline = start + options.seconds * 1000;

  async function producer(): Promise<void> {
    while (issued < options.maxEvents && performance.now() < deadline) {
      const n = issued++;
      const t0 = performance.now();
      try {
        await call(n);
        latencies[done++] = performance.now() - t0;
      } catch (error) {
        errors += 1;
        firstError ??= error;
      }
    }
  }

  await Promise.all(Array.from({ length: options.producers }, producer));
  const seconds = (performance.now() - start) / 1000;
  if (errors > 0) console.error(`${label}: ${errors} calls failed; first error:`, firstError);
  const sorted = latencies.subarray(0, done).sort();
  return {
    label,
    events: done,
    errors,
    seconds,
    rate: done / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Plain-text table with right-aligned figures. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fmtMs = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
export const fmtRatio = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');

/**
 * `env[name]` as a positive number (with `kind` integer, a positive whole number), or `fallback`
 * when it is unset or empty; anything else throws, naming the variable.
 */
export function positiveFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, kind: 'integer' | 'number'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const valid = kind === 'integer' ? Number.isInteger(value) : Number.isFinite(value);
  if (!valid || value <= 0) throw new Error(`${name} must be a positive ${kind}, got ${raw}`);
  return value;
}
