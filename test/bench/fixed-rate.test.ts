import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixedRateGenerator, runFixedRate } from '../../bench/native/fixed-rate.js';

/**
 * The benchmark's native open-loop generator is an instrument: these check that it counts what a
 * server answers (statuses, chunked and closing answers, new connections), times only 2xx, leaves
 * out its warm-up, and refuses a target off this machine. Rates are low and runs short; no timing is asserted.
 */
// A machine without a C compiler runs the benchmark with the Node generator (it says so); these are then skipped, not passed.
const HAS_CC = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!HAS_CC)('bench/native/fixed-rate.c', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webasset-fixed-rate-'));
  let binary = '';
  let server: Server;
  let port = 0;
  const seen: string[] = [];

  beforeAll(async () => {
    const built = await buildFixedRateGenerator(dir);
    if (!('binary' in built)) throw new Error(`fixed-rate did not build: ${built.error}`);
    binary = built.binary;
    let n = 0;
    server = createServer((req, res) => {
      req.resume();
      n += 1;
      seen.push(`${req.url} ${req.headers.connection ?? ''} ${req.headers.cookie ?? ''}`);
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        res.end('part two');
      } else if (req.url === '/every-other') {
        res.writeHead(n % 2 === 0 ? 503 : 200, { 'content-length': '2' });
        res.end('ok');
      } else if (req.url === '/close') {
        res.writeHead(200, { connection: 'close', 'content-length': '0' });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': '0' });
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (path: string, extra = '') => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`, 'latin1');

  it('sends rate x seconds requests on kept-alive connections, counts and times them, and cycles through the variants', async () => {
    seen.length = 0;
    const result = await runFixedRate(binary, { host: '127.0.0.1', port, rate: 400, seconds: 0.5, keepAlive: true, maxSockets: 4, warmupSeconds: 0.25 }, [
      request('/plain', 'Cookie: a=1\r\n'),
      request('/plain', 'Cookie: a=2\r\n'),
    ]);
    expect(result.requests).toBe(200);
    expect(result.statuses).toEqual({ '200': 200 });
    expect(result.errors).toBe(0);
    for (const value of [result.p50, result.p99, result.p999, result.max]) expect(Number.isFinite(value) && value >= 0).toBe(true);
    expect(result.p50).toBeLessThanOrEqual(result.max);
    // The warm-up's 100 requests were sent too, but not counted.
    expect(seen).toHaveLength(300);
    expect(seen.filter((line) => line.endsWith('a=1'))).toHaveLength(150);
    expect(seen.every((line) => !line.includes('close'))).toBe(true);
  });

  it('reads chunked answers, counts non-2xx without timing them, and follows a server that closes', async () => {
    const chunked = await runFixedRate(binary, { host: '127.0.0.1', port, rate: 200, seconds: 0.5, keepAlive: true, maxSockets: 2 }, [request('/chunked')]);
    expect(chunked).toMatchObject({ requests: 100, statuses: { '200': 100 }, errors: 0 });
    const mixed = await runFixedRate(binary, { host: '127.0.0.1', port, rate: 200, seconds: 0.5, keepAlive: true, maxSockets: 2 }, [request('/every-other')]);
    expect(mixed.requests).toBe(100);
    expect((mixed.statuses['200'] ?? 0) + (mixed.statuses['503'] ?? 0)).toBe(100);
    expect(mixed.statuses['503']).toBeGreaterThan(0);
    const closing = await runFixedRate(binary, { host: '127.0.0.1', port, rate: 200, seconds: 0.5, keepAlive: true, maxSockets: 2 }, [request('/close')]);
    expect(closing).toMatchObject({ requests: 100, statuses: { '200': 100 }, errors: 0 });
  });

  it('opens a new connection per request when not kept alive', async () => {
    seen.length = 0;
    const result = await runFixedRate(binary, { host: '127.0.0.1', port, rate: 200, seconds: 0.5, keepAlive: false, maxSockets: 64 }, [request('/plain', 'Connection: close\r\n')]);
    expect(result).toMatchObject({ requests: 100, statuses: { '200': 100 }, errors: 0 });
    expect(seen.every((line) => line.includes('close'))).toBe(true);
  });

  it('counts a refused connection as an error, and refuses a target that is not on this machine', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await runFixedRate(binary, { host: '127.0.0.1', port: freePort, rate: 100, seconds: 0.2, keepAlive: true, maxSockets: 2 }, [request('/plain')]);
    expect(refused).toMatchObject({ requests: 20, errors: 20, statuses: {} });
    expect(Number.isNaN(refused.p50)).toBe(true);
    await expect(runFixedRate(binary, { host: '10.0.0.1', port: 80, rate: 100, seconds: 0.2, keepAlive: true, maxSockets: 2 }, [request('/plain')])).rejects.toThrow(/only a 127\.x\.y\.z address/);
  });
});
