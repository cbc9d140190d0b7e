import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../forward-auth-load.js';

/**
 * The native open-loop generator (fixed-rate.c beside this file): built with the system's C compiler,
 * run as its own process. The Node generator spins to release requests on time and takes a whole core
 * of a 2-core machine; this one sleeps until the next request is due, so the server's tail is what
 * gets measured (docs/benchmarks.md, "ForwardAuth").
 */
const SOURCE = fileURLToPath(new URL('./fixed-rate.c', import.meta.url));

/** Builds the generator into `dir`: its path, or why not (no C compiler, a build error). `cc` is `$CC` or `cc`. */
export function buildFixedRateGenerator(dir: string, cc = 'cc'): Promise<{ binary: string } | { error: string }> {
  const binary = join(dir, 'fixed-rate');
  return new Promise((resolve) => {
    const child = spawn(cc, ['-O2', '-o', binary, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', (error) => resolve({ error: `no C compiler (${error.message})` }));
    child.on('exit', (code) => resolve(code === 0 ? { binary } : { error: `${cc} exited with ${code}: ${err.trim().split('\n')[0] ?? ''}` }));
  });
}

export interface FixedRateRun {
  /** An IPv4 loopback address (the generator refuses any other). */
  host: string;
  port: number;
  rate: number;
  /** Measured seconds, after the warm-up. */
  seconds: number;
  keepAlive: boolean;
  maxSockets: number;
  /** Seconds of the same load sent first and not measured. */
  warmupSeconds?: number;
}

/**
 * Runs the generator once. Request n sends variants[n % length] (whole HTTP/1.1 requests), written to
 * its stdin as "<length>\n<bytes>"; its one JSON line comes back in LoadResult's shape, NaN where
 * nothing was timed.
 */
export function runFixedRate(binary: string, run: FixedRateRun, variants: readonly Buffer[]): Promise<LoadResult> {
  const args = [run.host, String(run.port), String(Math.round(run.rate)), String(run.seconds), run.keepAlive ? '1' : '0', String(Math.floor(run.maxSockets)), String(run.warmupSeconds ?? 0)];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`fixed-rate exited with ${code}: ${err.trim()}`));
      const result = JSON.parse(out.trim()) as LoadResult;
      for (const key of ['p50', 'p99', 'p999', 'max'] as const) if (result[key] < 0) result[key] = Number.NaN;
      const late = result.sendLate;
      if (late) for (const key of ['p99', 'p999', 'max'] as const) if (late[key] < 0) late[key] = Number.NaN;
      resolve(result);
    });
    // The generator reads every request before it starts; one that exits early (bad arguments) closes the pipe.
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.concat(variants.flatMap((bytes) => [Buffer.from(`${bytes.length}\n`, 'latin1'), bytes])));
  });
}
