/**
 * The load generator of bench/forward-auth.ts. It runs in its own process
 * (never in the server's), reads one job as JSON from argv[2] and prints one
 * result as JSON on stdout.
 *
 * - `saturate`: autocannon, closed loop, no pipelining: requests/s at saturation.
 * - `saturate-new-connections`: the same with a new TCP connection per request
 *   (autocannon keeps connections open), on raw sockets like `fixed`.
 * - `fixed`: an open-loop generator at a fixed rate. Each request is due at
 *   start + n/rate; its latency runs from when it was due (not when it was
 *   sent) to the end of its response, so a stalled server cannot hide its
 *   queue (no coordinated omission). autocannon's own rate limit is not used
 *   for this: it releases each connection's per-second quota in one burst and
 *   records whole milliseconds, too coarse for a 2 ms goal. Nor is node:http's
 *   client: its per-request cost (ClientRequest, parser, Agent bookkeeping)
 *   kept it from sustaining ~6,500 requests/s on a 2-core machine, so its own
 *   queue was what got measured. `fixed` therefore writes pre-serialized
 *   bytes on raw node:net sockets and parses only what it needs of the answer.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { runFixedRate } from './native/fixed-rate.js';

export type LoadJob =
  | {
      kind: 'saturate';
      url: string;
      headers: Record<string, string>;
      connections: number;
      seconds: number;
      /** Cookie headers to spread the requests over (one per session), round robin; else `headers.cookie` for all. */
      cookies?: string[];
    }
  /** Closed loop, a new TCP connection per request (`Connection: close`): `connections` requests in flight at any time. */
  | { kind: 'saturate-new-connections'; url: string; headers: Record<string, string>; connections: number; seconds: number }
  | {
      kind: 'fixed';
      url: string;
      headers: Record<string, string>;
      rate: number;
      seconds: number;
      /** true: a pool of kept-alive connections; false: a new TCP connection per request. */
      keepAlive: boolean;
      maxSockets: number;
      /** As for `saturate`: request n carries cookies[n % length]. */
      cookies?: string[];
      /** The compiled bench/native/fixed-rate.c to run the job with (same semantics, far less CPU), or absent: this process runs it. */
      native?: string;
      /** Native generator only: seconds of the same load sent first and not measured. */
      warmupSeconds?: number;
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
  /** Native generator: how late requests were written after they were due (ms), waiting for a free connection or for the generator itself. */
  sendLate?: { p99: number; p999: number; max: number };
}

async function saturate(job: Extract<LoadJob, { kind: 'saturate' }>): Promise<LoadResult> {
  const cookies = job.cookies;
  let next = 0;
  const result = await autocannon({
    url: job.url,
    headers: job.headers,
    connections: job.connections,
    pipelining: 1,
    duration: job.seconds,
    // setupRequest belongs to an entry of `requests` (a top-level one is silently ignored), and runs before each request.
    ...(cookies && cookies.length > 0
      ? { requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length]! } }) }] }
      : {}),
  });
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

/** A request not answered this long after it was due counts as an error (and its connection is dropped). */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long after the last request was due the job may still wait for answers; a backstop, the timeout ends each request first. */
const DRAIN_MS = REQUEST_TIMEOUT_MS + 2_000;
/** An answer whose headers do not end within this many bytes is not one of ours: the connection is dropped. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** Every socket reads into this: a read is parsed before the next one starts, so one buffer serves all. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const ignore = () => undefined;
const INCOMPLETE = -1;
const MALFORMED = -2;

/** What parseResponse found, besides where the answer ends; module-level so the hot path allocates no result objects. */
const parsed = { status: 0, close: false, untilClose: false };

/** Hex chunk sizes followed by their data, then trailers up to an empty line. */
function chunkedEnd(buf: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, at);
    if (lineEnd < 0) return INCOMPLETE;
    // parseInt stops at a chunk extension (";name=value"), which is what we want.
    const size = Number.parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (!Number.isInteger(size) || size < 0) return MALFORMED;
    at = lineEnd + 2;
    if (size === 0) {
      for (;;) {
        const end = buf.indexOf(CRLF, at);
        if (end < 0) return INCOMPLETE;
        if (end === at) return end + 2;
        at = end + 2;
      }
    }
    at += size + 2;
    if (at > buf.length) return INCOMPLETE;
  }
}

/**
 * One HTTP/1.1 answer starting at `from`: the offset just past it, INCOMPLETE
 * (wait for more bytes) or MALFORMED. The head is re-read when an answer
 * comes in pieces; ours are a few hundred bytes, so that costs less than
 * keeping parser state between chunks.
 */
function parseResponse(buf: Buffer, from: number): number {
  const headEnd = buf.indexOf(CRLFCRLF, from);
  if (headEnd < 0) return buf.length - from > MAX_HEAD_BYTES ? MALFORMED : INCOMPLETE;
  // "HTTP/1.1 200 ...": the three digits sit at a fixed offset.
  if (headEnd - from < 12 || buf.toString('latin1', from, from + 5) !== 'HTTP/') return MALFORMED;
  const d0 = buf[from + 9]! - 48;
  const d1 = buf[from + 10]! - 48;
  const d2 = buf[from + 11]! - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return MALFORMED;
  const status = d0 * 100 + d1 * 10 + d2;
  parsed.status = status;
  parsed.untilClose = false;
  const bodyStart = headEnd + 4;
  // Header names are case-insensitive; a lower-cased copy of a ~300-byte head is cheaper than a careful scan.
  const head = buf.toString('latin1', from, headEnd).toLowerCase();
  // HTTP/1.0 closes after each answer unless it says keep-alive.
  parsed.close = buf[from + 7] === 48 ? !/\r\nconnection:[^\r]*\bkeep-alive\b/.test(head) : /\r\nconnection:[^\r]*\bclose\b/.test(head);
  if (status < 200 || status === 204 || status === 304) return bodyStart;
  const te = head.indexOf('\r\ntransfer-encoding:');
  if (te >= 0 && head.indexOf('chunked', te) >= 0) return chunkedEnd(buf, bodyStart);
  const cl = head.indexOf('\r\ncontent-length:');
  if (cl >= 0) {
    const lineEnd = head.indexOf('\r\n', cl + 17);
    const raw = head.slice(cl + 17, lineEnd < 0 ? head.length : lineEnd).trim();
    if (!/^\d{1,15}$/.test(raw)) return MALFORMED;
    const length = Number(raw);
    const end = bodyStart + length;
    return end <= buf.length ? end : INCOMPLETE;
  }
  // No length: the body runs to the end of the connection.
  parsed.untilClose = true;
  parsed.close = true;
  return bodyStart;
}

/** The address to connect to, or null when the URL is not on this machine. */
function loopbackAddress(hostname: string): string | null {
  // An address, not a name: a name would be looked up again for every new connection.
  if (hostname === 'localhost') return '127.0.0.1';
  if (hostname === '[::1]') return '::1';
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) ? hostname : null;
}

/** The request, once: every request of a job is the same bytes. */
function requestBytes(target: URL, headers: Record<string, string>, keepAlive: boolean): Buffer {
  const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`];
  const given = Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'connection');
  if (!given.some(([name]) => name.toLowerCase() === 'host')) lines.push(`Host: ${target.host}`);
  for (const [name, value] of given) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`header ${name}: line breaks are not allowed`);
    lines.push(`${name}: ${value}`);
  }
  if (!keepAlive) lines.push('Connection: close');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

async function fixed(job: Extract<LoadJob, { kind: 'fixed' }>): Promise<LoadResult> {
  const { host, port, target } = loopbackTarget(job.url, 'fixed');
  if (!(job.rate > 0) || !(job.seconds > 0) || !(job.maxSockets >= 1)) throw new Error('fixed: rate, seconds and maxSockets must be positive');
  // Every variant is serialized once; request n sends variant n % length.
  const variants = (job.cookies && job.cookies.length > 0 ? job.cookies : [job.headers.cookie]).map((cookie) =>
    requestBytes(target, cookie === undefined ? job.headers : { ...job.headers, cookie }, job.keepAlive),
  );
  const planned = Math.floor(job.rate * job.seconds);
  if (planned < 1) throw new Error('fixed: rate x seconds is less than one request');
  if (job.native) {
    if (host.includes(':')) throw new Error('fixed (native): IPv4 loopback only');
    return runFixedRate(job.native, { host, port, rate: job.rate, seconds: job.seconds, keepAlive: job.keepAlive, maxSockets: job.maxSockets, warmupSeconds: job.warmupSeconds ?? 0 }, variants);
  }
  const interval = 1000 / job.rate;
  const maxSockets = Math.floor(job.maxSockets);

  const latencies = new Float64Array(planned);
  const statusCounts = new Map<number, number>();
  let ok = 0;
  /** Requests answered or failed. */
  let done = 0;
  let errors = 0;
  /** Requests whose due time has come; those in [dispatched, released) wait in the FIFO queue. */
  let released = 0;
  let dispatched = 0;
  let open = 0;
  let finished = false;
  const conns = new Set<Conn>();
  /** LIFO: the most recently used connection is the warmest, and the pool grows only when it must. */
  const idle: Conn[] = [];
  // The first request is due a little after setup, so that the setup's own work does not make it late.
  const start = performance.now() + 50;
  const dueAt = (n: number) => start + n * interval;
  let resolveRun!: () => void;
  const ran = new Promise<void>((resolve) => (resolveRun = resolve));

  const finish = () => {
    if (finished) return;
    finished = true;
    resolveRun();
  };
  const failed = () => {
    errors += 1;
    done += 1;
    if (done === planned) finish();
  };
  const answered = (status: number, due: number) => {
    statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
    if (status >= 200 && status < 300) latencies[ok++] = performance.now() - due;
    done += 1;
    if (done === planned) finish();
  };

  class Conn {
    readonly socket: Socket;
    /** Due time of the request in flight, or -1. */
    due = -1;
    /** The start of an answer that came in pieces (a copy: the read buffer is shared). */
    pending: Buffer | null = null;
    /** The answer in flight has no length: it ends when the server closes. */
    untilClose = false;
    untilCloseStatus = 0;
    dead = false;

    constructor() {
      open += 1;
      this.socket = connect({
        host,
        port,
        // A kept-alive connection writes its next request right after an answer; Nagle would hold it back.
        noDelay: job.keepAlive,
        // Reads land in one shared buffer and reach us directly: no Buffer per read, no stream 'data' event.
        onread: { buffer: READ_BUFFER, callback: (length) => this.onRead(length) },
      });
      // 'close' follows every error and end, so everything is accounted for there.
      this.socket.on('error', ignore);
      this.socket.on('close', (hadError: boolean) => this.onClose(hadError));
      conns.add(this);
    }

    send(n: number): void {
      this.due = dueAt(n);
      this.socket.write(variants[n % variants.length]!);
    }

    onRead(length: number): boolean {
      if (finished || this.dead || this.untilClose) return true;
      const buf = this.pending === null ? READ_BUFFER.subarray(0, length) : Buffer.concat([this.pending, READ_BUFFER.subarray(0, length)]);
      this.pending = null;
      let at = 0;
      while (at < buf.length) {
        if (this.due < 0) return this.close(); // an answer nobody asked for
        const end = parseResponse(buf, at);
        if (end === MALFORMED) return this.close();
        if (end === INCOMPLETE) {
          this.pending = Buffer.from(buf.subarray(at));
          return true;
        }
        at = end;
        if (parsed.status < 200) continue; // 1xx: the real answer follows
        if (parsed.untilClose) {
          this.untilClose = true;
          this.untilCloseStatus = parsed.status;
          return true;
        }
        const due = this.due;
        this.due = -1;
        answered(parsed.status, due);
        if (finished) return true;
        // One request at a time per connection (no pipelining): bytes after a final answer answer nothing.
        if (parsed.close || !job.keepAlive || at < buf.length) return this.close();
        this.release();
        return true;
      }
      return true;
    }

    /** Ready for the next request: straight to the head of the queue, or idle. */
    release(): void {
      if (dispatched < released) {
        this.send(dispatched);
        dispatched += 1;
      } else {
        idle.push(this);
      }
    }

    /** A request still in flight fails when the socket's 'close' arrives. */
    close(): true {
      this.dead = true;
      this.socket.destroy();
      return true;
    }

    onClose(hadError: boolean): void {
      this.dead = true;
      open -= 1;
      conns.delete(this);
      if (finished) return;
      if (this.due >= 0) {
        const due = this.due;
        this.due = -1;
        // An answer without a length is complete when the server closes cleanly.
        if (this.untilClose && !hadError && this.socket.readableEnded) answered(this.untilCloseStatus, due);
        else failed();
      }
      // A slot is free: a queued request may take it.
      pump();
    }
  }

  /** Hands the queued (due) requests to idle connections, opening new ones up to maxSockets. */
  const pump = () => {
    while (dispatched < released && !finished) {
      let conn = idle.pop();
      while (conn !== undefined && conn.dead) conn = idle.pop();
      if (conn === undefined) {
        if (open >= maxSockets) return;
        conn = new Conn();
      }
      conn.send(dispatched);
      dispatched += 1;
    }
  };

  // Releases every request due by now, then yields to I/O. setImmediate, not setTimeout: at thousands
  // of requests/s the next one is due in well under a millisecond, and setTimeout's 1 ms floor would
  // add its own delay to every latency. The loop only sleeps when the next request is far off.
  const tick = () => {
    if (finished) return;
    const now = performance.now();
    let more = false;
    while (released < planned && dueAt(released) <= now) {
      released += 1;
      more = true;
    }
    if (more) pump();
    if (released >= planned) return;
    const wait = dueAt(released) - now;
    if (wait > 2) setTimeout(tick, wait - 1);
    else setImmediate(tick);
  };

  // Timeouts are swept, not armed per request: thousands of timers a second would cost more than the requests.
  const sweep = setInterval(() => {
    if (finished) return;
    const now = performance.now();
    while (dispatched < released && now - dueAt(dispatched) > REQUEST_TIMEOUT_MS) {
      dispatched += 1;
      failed();
    }
    for (const conn of conns) {
      if (conn.due >= 0 && now - conn.due > REQUEST_TIMEOUT_MS) conn.close(); // its 'close' counts the error
    }
    if (now > dueAt(planned) + DRAIN_MS) {
      errors += planned - done;
      done = planned;
      finish();
    }
  }, 100);

  setTimeout(tick, Math.max(0, start - performance.now() - 1));
  await ran;
  const end = performance.now();
  clearInterval(sweep);
  for (const conn of conns) conn.socket.destroy();

  const sorted = latencies.subarray(0, ok).sort();
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
  const seconds = (end - start) / 1000;
  const statuses: Record<string, number> = {};
  for (const [code, count] of [...statusCounts].sort(([a], [b]) => a - b)) statuses[String(code)] = count;
  return { requests: done, seconds, rate: done / seconds, statuses, errors, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/** The target's loopback host and port. A load generator aimed elsewhere would be a flood: this one only ever talks to this machine. */
function loopbackTarget(url: string, kind: string): { host: string; port: number; target: URL } {
  const target = new URL(url);
  const host = loopbackAddress(target.hostname);
  if (target.protocol !== 'http:' || host === null) throw new Error(`${kind}: only http:// on loopback, got ${url}`);
  return { host, port: Number(target.port || 80), target };
}

async function saturateNewConnections(job: Extract<LoadJob, { kind: 'saturate-new-connections' }>): Promise<LoadResult> {
  const { host, port, target } = loopbackTarget(job.url, 'saturate-new-connections');
  const bytes = requestBytes(target, job.headers, false);
  const statusCounts = new Map<number, number>();
  const latencies: number[] = [];
  let errors = 0;
  let sourceTurn = 0;
  const started = performance.now();
  const endAt = started + job.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      let buf: Buffer = Buffer.alloc(0);
      let status = 0;
      // As in bench/native/fixed-rate.c: sources spread over 127.0.0.1-64, so the TIME_WAITs of earlier requests do not stall new connects.
      const localAddress = host.includes(':') ? undefined : `127.0.0.${1 + (sourceTurn++ % 64)}`;
      const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) }, () => socket.write(bytes));
      const timer = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS);
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        const end = parseResponse(buf, 0);
        if (end >= 0 && !parsed.untilClose) {
          status = parsed.status;
          socket.destroy();
        }
      });
      socket.on('error', ignore);
      socket.on('close', () => {
        clearTimeout(timer);
        if (status === 0 && buf.length > 0 && parseResponse(buf, 0) >= 0) status = parsed.status;
        if (status === 0) errors += 1;
        else {
          statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
          if (status >= 200 && status < 300) latencies.push(performance.now() - sent);
        }
        resolve();
      });
    });
  const worker = async () => {
    while (performance.now() < endAt) await one();
  };
  await Promise.all(Array.from({ length: job.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
  const statuses: Record<string, number> = {};
  for (const [code, count] of [...statusCounts].sort(([a], [b]) => a - b)) statuses[String(code)] = count;
  const requests = latencies.length + errors + [...statusCounts].filter(([code]) => code < 200 || code >= 300).reduce((a, [, n]) => a + n, 0);
  return { requests, seconds, rate: requests / seconds, statuses, errors, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

const job = JSON.parse(process.argv[2] ?? 'null') as LoadJob | null;
if (job) {
  const result = job.kind === 'saturate' ? await saturate(job) : job.kind === 'saturate-new-connections' ? await saturateNewConnections(job) : await fixed(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
