/**
 * The load generator of bench/forward-auth.ts. It runs in its own process
 * (never in the server's), reads one job as JSON from argv[2] and prints one
 * result as JSON on stdout.
 *
 * - `saturate`: autocannon, closed loop, no pipelining: requests/s at saturation.
 * - `fixed`: an open-loop generator at a fixed rate. Each request is due at
 *   start + n/rate; its latency runs from when it was due (not when it was
 *   sent) to the end of its response, so a stalled server cannot hide its
 *   queue (no coordinated omission). autocannon's own rate limit is not used
 *   for this: it releases each connection's per-second quota in one burst and
 *   records whole milliseconds, too coarse for a 2 ms goal.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export type LoadJob =
  | { kind: 'saturate'; url: string; headers: Record<string, string>; connections: number; seconds: number }
  | {
      kind: 'fixed';
      url: string;
      headers: Record<string, string>;
      rate: number;
      seconds: number;
      /** true: a pool of kept-alive connections; false: a new TCP connection per request. */
      keepAlive: boolean;
      maxSockets: number;
    };

export interface LoadResult {
  requests: number;
  seconds: number;
  rate: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  /** Milliseconds, of 2xx responses only. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

async function saturate(job: Extract<LoadJob, { kind: 'saturate' }>): Promise<LoadResult> {
  const result = await autocannon({ url: job.url, headers: job.headers, connections: job.connections, pipelining: 1, duration: job.seconds });
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = (stat as { count: number }).count;
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    requests: total,
    seconds: job.seconds,
    rate: result.requests.average,
    statuses,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    max: result.latency.max,
  };
}

async function fixed(job: Extract<LoadJob, { kind: 'fixed' }>): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: job.keepAlive, maxSockets: job.maxSockets, maxFreeSockets: job.maxSockets });
  const headers = job.keepAlive ? job.headers : { ...job.headers, connection: 'close' };
  const target = new URL(job.url);
  const planned = Math.floor(job.rate * job.seconds);
  const latencies = new Float64Array(planned);
  const statuses: Record<string, number> = {};
  let ok = 0;
  let done = 0;
  let errors = 0;
  let sent = 0;
  const interval = 1000 / job.rate;
  const start = performance.now() + 50;

  await new Promise<void>((resolve) => {
    const finish = () => {
      done += 1;
      if (done === planned) resolve();
    };
    const fire = (due: number) => {
      // Every request ends exactly once: a response, or an error (also one cut off mid-response).
      let ended = false;
      const failed = () => {
        if (ended) return;
        ended = true;
        errors += 1;
        finish();
      };
      const req = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (ended) return;
          ended = true;
          const code = String(res.statusCode);
          statuses[code] = (statuses[code] ?? 0) + 1;
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) latencies[ok++] = performance.now() - due;
          finish();
        });
        res.on('error', failed);
        res.on('close', () => {
          if (!res.complete) failed();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', failed);
      req.end();
    };
    // Issue every request that is due, then yield to I/O; setImmediate keeps the schedule tight.
    const tick = () => {
      const now = performance.now();
      while (sent < planned && start + sent * interval <= now) {
        fire(start + sent * interval);
        sent += 1;
      }
      if (sent < planned) setImmediate(tick);
    };
    setTimeout(tick, 50);
  });
  agent.destroy();
  const sorted = latencies.subarray(0, ok).sort();
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
  const seconds = (performance.now() - start) / 1000;
  return { requests: done, seconds, rate: done / seconds, statuses, errors, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

const job = JSON.parse(process.argv[2] ?? 'null') as LoadJob | null;
if (job) {
  const result = job.kind === 'saturate' ? await saturate(job) : await fixed(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
