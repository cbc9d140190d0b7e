import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryState } from '../../src/cluster/index.js';
import { systemClock } from '../../src/core/index.js';
import { createSessionRelay, type SessionRelay } from '../../src/http/index.js';
import { createApiRateLimit } from '../../src/http/api-rate-limit.js';
import { registerErrorHandling } from '../../src/http/errors.js';
import { createRelaySigner, createRelayTrust, RELAY_HEADER } from '../../src/http/live-view/relay-signature.js';
import { freePort } from '../support/free-port.js';

const KEY = randomBytes(32).toString('base64');
const PRINCIPAL = { kind: 'user', id: 'u-1', name: 'olga', roles: ['operator'], groups: [], via: 'session', mfa: true };
const SESSION = '6f1c2a4e-8a7b-4c4d-9e0f-1a2b3c4d5e6f';
const silent = { warn: () => undefined, debug: () => undefined };
const PASSED_ON = ['cookie', 'authorization', 'x-csrf-token', 'content-type', 'user-agent'] as const;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A stand-in for the holding node: records each request (and its whole body) and answers with `answer`. */
async function holdingNode(answer: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res, body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).finally(() => server.closeAllConnections()),
    server,
  };
}

/**
 * The receiving node, reduced to what the transfer routes do: the signature's trust hook first, an
 * identified caller (unless `x-test-anonymous`), then a route onRequest that relays when the
 * session is held elsewhere and otherwise lets the route answer `served here`.
 */
async function receivingNode(relay: SessionRelay): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  app.addHook('onRequest', createRelayTrust(createRelaySigner({ clusterKey: KEY })));
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    request.principal = request.headers['x-test-anonymous'] ? null : (PRINCIPAL as never);
  });
  registerErrorHandling(app);
  const relayed = async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = request.params as { id: string };
    const target = await relay.holderOf(request, id);
    if (!target) return undefined;
    const method = request.method as 'GET' | 'POST' | 'DELETE';
    await relay.forward(request, reply, target, {
      method,
      path: `/api/sessions/${id}/thing`,
      headers: method === 'POST' ? [...PASSED_ON, 'content-length'] : PASSED_ON,
      body: method === 'POST' ? { stream: request.raw } : undefined,
    });
    return reply;
  };
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume();
    payload.on('end', () => done(null, null));
  });
  app.route({ method: ['GET', 'POST', 'DELETE'], url: '/api/sessions/:id/thing', onRequest: relayed, handler: async () => ({ served: 'here' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

describe('session relay between nodes (HTTP)', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setUp(options: { answer?: Parameters<typeof holdingNode>[0]; url?: string; sessionNode?: string; sessionState?: string; maxInFlight?: number; registryDown?: boolean } = {}) {
    const holder = await holdingNode(
      options.answer ??
        ((_req, res, body) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-file-sha256': createHash('sha256').update(body).digest('hex'), connection: 'keep-alive, x-secret-hop', 'x-secret-hop': 'no', 'keep-alive': 'timeout=5' });
          res.end(body.length > 0 ? body : Buffer.from('the file'));
        }),
    );
    closers.push(holder.close);
    const lookups: string[] = [];
    const relay = createSessionRelay({
      nodeId: 'node-b',
      clusterKey: KEY,
      logger: silent,
      maxInFlight: options.maxInFlight,
      idleTimeoutMs: 5_000,
      registry: {
        lookup: async (nodeId) => {
          lookups.push(nodeId);
          if (options.registryDown) throw new Error('redis away');
          return nodeId === 'node-a' ? (options.url ?? holder.url) : undefined;
        },
      },
      sessions: {
        get: async (id) => {
          if (id !== SESSION) throw new Error('not found');
          return { nodeId: options.sessionNode ?? 'node-a', state: options.sessionState ?? 'active' };
        },
      },
    });
    closers.push(async () => relay.close());
    const front = await receivingNode(relay);
    closers.push(() => front.app.close());
    return { holder, relay, front, lookups };
  }

  const headers = { cookie: 'webasset=abc', 'x-csrf-token': 'tok', origin: 'https://webasset.example', 'user-agent': 'test-agent', 'x-other': 'not passed', 'x-forwarded-for': '203.0.113.5' };

  it('sends the same request to the holding node: the caller headers it needs, Origin, and forwarded facts under a signature that holds; nothing else', async () => {
    const { holder, front } = await setUp();
    const res = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { method: 'DELETE', headers });
    expect(res.status).toBe(200);
    const [seen] = holder.seen;
    expect(seen).toMatchObject({ method: 'DELETE', url: `/api/sessions/${SESSION}/thing` });
    expect(seen!.headers).toMatchObject({ cookie: 'webasset=abc', 'x-csrf-token': 'tok', origin: 'https://webasset.example', 'user-agent': 'test-agent', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
    expect(seen!.headers['x-other']).toBeUndefined();
    expect(seen!.headers.host).toBe(new URL(holder.url).host);
    const facts = createRelaySigner({ clusterKey: KEY }).verify({ method: 'DELETE', url: seen!.url, headers: seen!.headers });
    expect(facts).toMatchObject({ ip: '127.0.0.1', proto: 'http', fromNode: 'node-b' });
  });

  it("streams the holding node's answer back: status, end-to-end headers only, the exact bytes; a request body streamed on unchanged", async () => {
    const { holder, front } = await setUp();
    const got = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('the file');
    expect(got.headers.get('x-file-sha256')).toBe(createHash('sha256').update('').digest('hex'));
    expect(got.headers.get('x-secret-hop')).toBeNull();
    // The front's own keep-alive (its server's), never the holding node's.
    expect(got.headers.get('keep-alive')).not.toBe('timeout=5');

    const body = randomBytes(3 * 1024 * 1024);
    const sent = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { method: 'POST', headers: { ...headers, 'content-type': 'multipart/form-data; boundary=x' }, body });
    expect(sent.status).toBe(200);
    expect(holder.seen.at(-1)!.body.equals(body)).toBe(true);
    expect(holder.seen.at(-1)!.headers['content-type']).toBe('multipart/form-data; boundary=x');
    expect(sent.headers.get('x-file-sha256')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(Buffer.from(await sent.arrayBuffer()).equals(body)).toBe(true);
  });

  it("passes the holding node's refusals on as they are (status and body)", async () => {
    const { front } = await setUp({
      answer: (_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'not_found', message: 'No such session.' } }));
      },
    });
    const res = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No such session.' } });
  });

  it("passes on the holding node's 401 with the cookie it clears: the caller's browser forgets a session that ended there", async () => {
    const clearing = ['__Host-webasset=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax', 'webasset=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax'];
    const { front } = await setUp({
      answer: (_req, res) => {
        res.writeHead(401, { 'content-type': 'application/json', 'set-cookie': clearing });
        res.end(JSON.stringify({ error: { code: 'unauthenticated', message: 'Sign in first.' } }));
      },
    });
    const res = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual(clearing);
    expect(await res.json()).toEqual({ error: { code: 'unauthenticated', message: 'Sign in first.' } });
  });

  it('never relays a request another node relayed already: it is served here', async () => {
    const { holder, front, lookups } = await setUp();
    const path = `/api/sessions/${SESSION}/thing`;
    const signed = createRelaySigner({ clusterKey: KEY }).headers('GET', path, 'https://webasset.example', { ip: '198.51.100.7', proto: 'https', host: 'webasset.example' }, 'node-c');
    const res = await fetch(`${front.url}${path}`, { headers: { ...headers, ...signed } });
    expect(await res.json()).toEqual({ served: 'here' });
    expect(holder.seen).toEqual([]);
    expect(lookups).toEqual([]);
    // A forged signature is a direct request: relayed as any other.
    const forged = await fetch(`${front.url}${path}`, { headers: { ...headers, ...signed, [RELAY_HEADER]: signed[RELAY_HEADER]!.replace(/s=.*/, `s=${randomBytes(32).toString('base64url')}`) } });
    expect(Buffer.from(await forged.arrayBuffer()).toString()).toBe('the file');
  });

  it('serves here what is not held by another announced live node: anonymous, unknown, ended, held here, unannounced, registry away', async () => {
    for (const [options, extra, id] of [
      [{}, { 'x-test-anonymous': '1' }, SESSION],
      [{}, {}, '00000000-0000-4000-8000-000000000000'],
      [{ sessionState: 'ended' }, {}, SESSION],
      [{ sessionNode: 'node-b' }, {}, SESSION],
      [{ sessionNode: 'node-z' }, {}, SESSION],
      [{ registryDown: true }, {}, SESSION],
    ] as const) {
      const { holder, front } = await setUp(options);
      const res = await fetch(`${front.url}/api/sessions/${id}/thing`, { headers: { ...headers, ...extra } });
      expect(await res.json(), JSON.stringify(options)).toEqual({ served: 'here' });
      expect(holder.seen).toEqual([]);
    }
  });

  it('answers node_unavailable (503) for an announced node that does not answer, and past its bound of requests at once', async () => {
    const { front } = await setUp({ url: `http://127.0.0.1:${await freePort()}` });
    const res = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'node_unavailable' } });

    // A holding node that answers only when told: one relay in flight fills a bound of 1.
    const pending: ServerResponse[] = [];
    const slow = await setUp({ maxInFlight: 1, answer: (_req, r) => pending.push(r) });
    const first = fetch(`${slow.front.url}/api/sessions/${SESSION}/thing`, { headers });
    while (pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(slow.relay.inFlight).toBe(1);
    const second = await fetch(`${slow.front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(second.status).toBe(503);
    expect(await second.json()).toMatchObject({ error: { code: 'node_unavailable' } });
    pending[0]!.end('late');
    expect(await (await first).text()).toBe('late');
  });

  it('answers node_unavailable when the holding node goes away before it answers', async () => {
    const { front } = await setUp({ answer: (req) => req.socket.destroy() });
    const res = await fetch(`${front.url}/api/sessions/${SESSION}/thing`, { headers });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'node_unavailable' } });
  });

  it('a request relayed under a valid signature is not counted again by the API rate limit (the relaying node counted it on the same counters)', async () => {
    const signer = createRelaySigner({ clusterKey: KEY });
    const trust = createRelayTrust(signer);
    const limit = createApiRateLimit({ state: createMemoryState({ clock: systemClock }), perMinute: 1 });
    const path = `/api/sessions/${SESSION}/thing`;
    const requestWith = (extra: Record<string, string>) =>
      ({ headers: { ...extra }, raw: { method: 'GET', url: path }, url: path, routeOptions: { url: '/api/sessions/:id/thing' }, log: silent }) as unknown as FastifyRequest;
    const relayed = requestWith(signer.headers('GET', path, '', { ip: '198.51.100.7', proto: 'https', host: 'webasset.example' }, 'node-b'));
    await trust(relayed);
    expect(relayed.ip).toBe('198.51.100.7');
    expect(limit.applies(relayed)).toBe(false);
    const forged = requestWith({ [RELAY_HEADER]: `v1;t=${Date.now()};n=node-b;s=${randomBytes(32).toString('base64url')}` });
    await trust(forged);
    expect(limit.applies(forged)).toBe(true);
    expect(limit.applies(requestWith({}))).toBe(true);
  });
});
