import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEgressProxy, type EgressProxy } from '../../src/browser/egress-proxy.js';
import { createUrlGuard } from '../../src/browser/url-guard.js';
import { startSite, type Site } from './support.js';

// A site closes a kept-alive connection just as the proxy writes the next request on it (the site's
// idle timeout and the proxy's reuse cross). The site here plays that race on purpose: on each
// connection it answers the first request and hangs up on the second without answering.

let site: Site;
/** Bodies the site answered, in order (a hung-up request never counts). */
const answered: string[] = [];
const served = new WeakMap<Socket, number>();

beforeAll(async () => {
  site = await startSite((req, res) => {
    const count = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, count);
    const hangUp = count > 1 || req.url === '/always-hang-up';
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (hangUp) return req.socket.destroy();
      const body = Buffer.concat(chunks).toString();
      answered.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${body}`);
    });
  });
});
afterAll(() => site.close());

let proxy: EgressProxy;
beforeAll(async () => {
  proxy = await startEgressProxy({ guard: createUrlGuard({ allowedHosts: ['127.0.0.1'], allowInsecureHttp: true }), block: () => undefined });
});
afterAll(() => proxy.close());
afterEach(() => {
  answered.length = 0;
});

/** One request through the proxy, on a connection of its own (as Chromium's may be). */
async function viaProxy(path: string, options: { method?: string; body?: string; chunked?: boolean } = {}): Promise<{ status: number; body: string }> {
  const proxyUrl = new URL(proxy.server);
  const headers: Record<string, string> = options.chunked ? { 'transfer-encoding': 'chunked' } : {};
  const req = request({ host: proxyUrl.hostname, port: proxyUrl.port, method: options.method ?? 'GET', path: `http://127.0.0.1:${site.port}${path}`, headers, agent: false });
  req.end(options.body);
  const [answer] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(chunk as Buffer);
  return { status: answer.statusCode ?? 0, body: Buffer.concat(chunks).toString() };
}

describe('egress proxy: a kept-alive connection the site closed under the request', () => {
  it('sends a GET again on a new connection instead of answering an empty 502', async () => {
    expect(await viaProxy('/first')).toEqual({ status: 200, body: 'ok ' });
    // The proxy's kept-alive connection to the site is reused here, and the site hangs up on it.
    expect(await viaProxy('/second')).toEqual({ status: 200, body: 'ok ' });
    expect(answered).toEqual(['GET /first ', 'GET /second ']);
  });

  it('sends a small form POST again too, with the same body, answered once', async () => {
    await viaProxy('/warm');
    expect(await viaProxy('/transfer', { method: 'POST', body: 'iban=DE89&amount=1.00' })).toEqual({ status: 200, body: 'ok iban=DE89&amount=1.00' });
    expect(answered).toEqual(['GET /warm ', 'POST /transfer iban=DE89&amount=1.00']);
  });

  it('does not resend a streamed body it did not keep: the browser gets the 502', async () => {
    await viaProxy('/warm');
    expect((await viaProxy('/upload', { method: 'POST', body: 'part', chunked: true })).status).toBe(502);
    expect(answered).toEqual(['GET /warm ']);
  });

  it('answers 502 when a new connection fails too: only a reused one is tried again', async () => {
    expect((await viaProxy('/always-hang-up')).status).toBe(502);
    expect(answered).toEqual([]);
  });
});
