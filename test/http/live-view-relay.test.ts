import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { AppError, isAppError } from '../../src/core/index.js';
import { createLiveViewRelay, type LiveViewRelay } from '../../src/http/index.js';
import { createRelaySigner } from '../../src/http/live-view/relay-signature.js';
import { freePort } from '../support/free-port.js';
import { openLiveSocket } from './live-view-fixtures.js';

const KEY = randomBytes(32).toString('base64');
const PRINCIPAL = { kind: 'user', id: 'u-1', name: 'olga', roles: ['operator'], groups: [], via: 'session', mfa: true };
const silent = { warn: () => undefined, debug: () => undefined };

/** A stand-in for the holding node: a WebSocket server that records each handshake and hands out its sockets. */
async function holdingNode(options: { refuse?: number; body?: string; answerWhen?: Promise<void> } = {}) {
  const handshakes: IncomingMessage[] = [];
  const sockets: Array<{ socket: WebSocket; got: Array<{ text?: string; binary?: Buffer }> }> = [];
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    verifyClient: (info, done) => {
      handshakes.push(info.req);
      void (options.answerWhen ?? Promise.resolve()).then(() => {
        if (options.refuse) done(false, options.refuse, options.body);
        else done(true);
      });
    },
  });
  await once(wss, 'listening');
  // Recorded from the first moment: what the relay held for the handshake may come at once.
  wss.on('connection', (socket) => sockets.push({ socket, got: messagesOf(socket) }));
  const next = async () => {
    while (sockets.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    return sockets.shift()!;
  };
  return { url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, handshakes, next, close: () => closeServer(wss) };
}

/**
 * The receiving node, reduced to what the route does: before the upgrade is answered, the server's
 * first onRequest hook (trust) and the route's preHandler (locate), whose refusal is the HTTP answer
 * (as the error handler writes it); once upgraded, the socket is taken by the relay (its wsHandler),
 * and whatever is not taken is closed 4999.
 */
async function receivingNode(relay: LiveViewRelay, requestFacts: Partial<FastifyRequest> = {}) {
  const requests = new WeakMap<IncomingMessage, FastifyRequest<{ Params: { id: string } }>>();
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, status?: number, message?: string) => void) => {
      const req = info.req;
      const request = {
        ws: true,
        principal: PRINCIPAL,
        params: { id: decodeURIComponent(req.url!.split('/')[3]!) },
        headers: req.headers,
        ip: '198.51.100.7',
        protocol: 'https',
        host: 'webasset.example',
        raw: req,
        log: silent,
        ...requestFacts,
      } as unknown as FastifyRequest<{ Params: { id: string } }>;
      requests.set(req, request);
      relay
        .trust(request)
        .then(() => relay.locate(request))
        .then(
          () => done(true),
          (error: unknown) => {
            const refusal = isAppError(error) ? error : new AppError('internal');
            done(false, refusal.status, JSON.stringify({ error: { code: refusal.code, message: refusal.publicMessage, details: refusal.data } }));
          },
        );
    },
  });
  await once(wss, 'listening');
  wss.on('connection', (socket, req) => {
    if (!relay.take(socket, requests.get(req)!)) socket.close(4999, 'served here');
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return {
    url: (id: string) => `${url}/api/sessions/${encodeURIComponent(id)}/live`,
    open: (id: string, headers: Record<string, string> = {}) =>
      new WebSocket(`${url}/api/sessions/${encodeURIComponent(id)}/live`, { headers: { origin: 'https://webasset.example', cookie: 'webasset=abc', 'user-agent': 'test-agent', ...headers } }),
    close: () => closeServer(wss),
  };
}

function closeServer(wss: WebSocketServer): Promise<unknown> {
  for (const client of wss.clients) client.terminate();
  return new Promise((resolve) => wss.close(resolve));
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

function messagesOf(ws: WebSocket): Array<{ text?: string; binary?: Buffer }> {
  const out: Array<{ text?: string; binary?: Buffer }> = [];
  ws.on('message', (data: Buffer, isBinary) => out.push(isBinary ? { binary: data } : { text: data.toString('utf8') }));
  return out;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('live-view relay between nodes', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setUp(
    options: { holder?: { refuse?: number; body?: string; answerWhen?: Promise<void> }; url?: string; sessionNode?: string; maxRelays?: number; facts?: Partial<FastifyRequest>; sessionState?: string; pingIntervalMs?: number } = {},
  ) {
    const holder = await holdingNode(options.holder);
    closers.push(holder.close);
    const lookups: string[] = [];
    const relay = createLiveViewRelay({
      nodeId: 'node-b',
      clusterKey: KEY,
      logger: silent,
      maxRelays: options.maxRelays,
      pingIntervalMs: options.pingIntervalMs,
      registry: {
        lookup: async (nodeId) => {
          lookups.push(nodeId);
          return nodeId === 'node-a' ? (options.url ?? holder.url) : undefined;
        },
      },
      sessions: {
        get: async (id) => {
          if (id === 'missing') throw new Error('not found');
          return { nodeId: options.sessionNode ?? 'node-a', state: options.sessionState ?? 'active' };
        },
      },
    });
    closers.push(async () => relay.close());
    const front = await receivingNode(relay, options.facts);
    closers.push(front.close);
    return { holder, relay, front, lookups };
  }

  it('opens the same path on the holding node with the cookie, Origin and user agent, and signed forwarded facts', async () => {
    const { holder, front } = await setUp();
    const client = front.open('s 1');
    await once(client, 'open');
    await holder.next();
    const req = holder.handshakes[0]!;
    expect(req.url).toBe('/api/sessions/s%201/live');
    expect(req.headers).toMatchObject({ cookie: 'webasset=abc', origin: 'https://webasset.example', 'user-agent': 'test-agent' });
    const facts = createRelaySigner({ clusterKey: KEY }).verify({ method: 'GET', url: req.url!, headers: req.headers });
    expect(facts).toEqual({ ip: '198.51.100.7', proto: 'https', host: 'webasset.example', fromNode: 'node-b' });
    client.close();
  });

  it('passes text as text and frames as binary, both ways, and propagates closes with code and reason', async () => {
    const { holder, front, relay } = await setUp();
    const client = front.open('s-1');
    const got = messagesOf(client);
    await once(client, 'open');
    const { socket: upstream, got: upGot } = await holder.next();
    upstream.send(JSON.stringify({ type: 'state' }));
    upstream.send(Buffer.from([0xff, 0xd8, 1, 2]), { binary: true });
    await until(() => got.length === 2);
    expect(got).toEqual([{ text: '{"type":"state"}' }, { binary: Buffer.from([0xff, 0xd8, 1, 2]) }]);
    client.send(JSON.stringify({ type: 'ack' }));
    client.send(Buffer.from([7]), { binary: true });
    await until(() => upGot.length === 2);
    expect(upGot).toEqual([{ text: '{"type":"ack"}' }, { binary: Buffer.from([7]) }]);
    // The holding node ends the view: the viewer gets its code and reason.
    const closed = closeOf(client);
    upstream.close(4410, 'session ended: user');
    expect(await closed).toEqual({ code: 4410, reason: 'session ended: user' });
    await until(() => relay.open === 0);

    // The viewer leaves: the holding node gets its code and reason.
    const second = front.open('s-1');
    await once(second, 'open');
    const { socket: upstream2 } = await holder.next();
    const upClosed = closeOf(upstream2);
    second.close(4000, 'bye');
    expect(await upClosed).toEqual({ code: 4000, reason: 'bye' });
    await until(() => relay.open === 0);
  });

  it('holds messages the viewer sends while the holding node answers, and delivers them in order', async () => {
    const { holder, front } = await setUp();
    const client = front.open('s-1');
    await once(client, 'open');
    client.send(JSON.stringify({ type: 'resize', width: 800, height: 600 }));
    client.send(JSON.stringify({ type: 'ack' }));
    const { got: upGot } = await holder.next();
    await until(() => upGot.length === 2);
    expect(upGot.map((m) => m.text)).toEqual(['{"type":"resize","width":800,"height":600}', '{"type":"ack"}']);
    client.close();
  });

  it('stops reading the holding node while the viewer does not keep up (backpressure), and delivers everything once it does', async () => {
    const { holder, front } = await setUp();
    const client = front.open('s-1');
    let received = 0;
    client.on('message', () => received++);
    await once(client, 'open');
    const { socket: upstream } = await holder.next();
    // The viewer stops reading.
    client.pause();
    const chunk = randomBytes(1024 * 1024);
    const total = 48;
    let written = 0;
    for (let i = 0; i < total; i++) upstream.send(chunk, { binary: true }, () => written++);
    // The relay stops taking from the holding node: most of the 48 MiB stay queued at the holding node.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(written).toBeLessThan(total);
    expect(upstream.bufferedAmount).toBeGreaterThan(8 * 1024 * 1024);
    client.resume();
    await until(() => received === total);
    expect(written).toBe(total);
    client.close();
  });

  it('answers what a direct upgrade answers when the holding node refuses the viewer: its HTTP refusal, before the upgrade', async () => {
    // The viewer's sign-in expired or was revoked after this node checked it: 401, as on the holding node itself.
    const body = (code: string, message: string, details?: unknown) => JSON.stringify({ error: { code, message, requestId: 'req-a', details } });
    const expired = await setUp({ holder: { refuse: 401, body: body('unauthenticated', 'The session has ended; sign in again.') } });
    const a = await openLiveSocket(expired.front.url('s-1'), { origin: 'https://webasset.example', cookie: 'webasset=abc' });
    expect(a.status).toBe(401);
    expect(JSON.parse(a.body!)).toEqual({ error: { code: 'unauthenticated', message: 'The session has ended; sign in again.' } });
    expect(a.close).toBeUndefined();
    expect(expired.relay.open).toBe(0);

    const limited = await setUp({ holder: { refuse: 429, body: body('rate_limited', 'Too many attempts; try again later.', { retryAfterSeconds: 30 }) } });
    const b = await openLiveSocket(limited.front.url('s-1'), { origin: 'https://webasset.example', cookie: 'webasset=abc' });
    expect(b.status).toBe(429);
    expect(JSON.parse(b.body!)).toMatchObject({ error: { code: 'rate_limited', details: { retryAfterSeconds: 30 } } });
  });

  it('answers not_found or unavailable after the upgrade, as before, when the holding node has no such route, is stopping, or does not answer', async () => {
    const missing = await setUp({ holder: { refuse: 404 } });
    const a = missing.front.open('s-1');
    const aGot = messagesOf(a);
    expect(await closeOf(a)).toEqual({ code: 4404, reason: 'not found' });
    expect(aGot.map((m) => JSON.parse(m.text!) as unknown)).toEqual([{ type: 'error', code: 'not_found', message: 'Not found.' }]);

    const stopping = await setUp({ holder: { refuse: 503, body: JSON.stringify({ error: { code: 'shutting_down', message: 'The server is shutting down.' } }) } });
    expect(await closeOf(stopping.front.open('s-1'))).toEqual({ code: 4503, reason: 'unavailable' });

    const down = await setUp({ url: `http://127.0.0.1:${await freePort()}` });
    const b = down.front.open('s-1');
    const bGot = messagesOf(b);
    expect(await closeOf(b)).toEqual({ code: 4503, reason: 'unavailable' });
    expect(bGot.map((m) => JSON.parse(m.text!) as unknown)).toEqual([{ type: 'error', code: 'unavailable', message: 'The session cannot be shown right now; try again shortly.' }]);
  });

  it('lets go of the holding node\'s view when the viewer leaves before its own upgrade is answered', async () => {
    let answer!: () => void;
    const { holder, front, relay } = await setUp({ holder: { answerWhen: new Promise<void>((resolve) => (answer = resolve)) } });
    const client = front.open('s-1');
    client.on('error', () => undefined);
    await until(() => holder.handshakes.length === 1);
    client.terminate(); // gone while the holding node has not answered yet
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer();
    const { socket: upstream } = await holder.next();
    await until(() => upstream.readyState === WebSocket.CLOSED);
    expect(relay.open).toBe(0);
  });

  it('pings each hop: a viewer that stops answering is cut, and the holding node sees its view close', async () => {
    const { holder, front, relay } = await setUp({ pingIntervalMs: 50 });
    const client = new WebSocket(front.url('s-1'), { headers: { origin: 'https://webasset.example', cookie: 'webasset=abc' }, autoPong: false });
    await once(client, 'open');
    const { socket: upstream } = await holder.next();
    const upClosed = closeOf(upstream);
    expect((await closeOf(client)).code).toBe(1006);
    expect((await upClosed).code).toBe(1006);
    await until(() => relay.open === 0);
  });

  it('pings each hop: a holding node that stops answering is cut, and so is the viewer, who answers', async () => {
    const { holder, front, relay } = await setUp({ pingIntervalMs: 50 });
    const client = front.open('s-1');
    await once(client, 'open');
    const { socket: upstream } = await holder.next();
    // The viewer answers beat after beat and is kept.
    let pinged = 0;
    client.on('ping', () => pinged++);
    await until(() => pinged >= 3);
    expect(client.readyState).toBe(WebSocket.OPEN);
    // The holding node goes silent (reads nothing, so answers no ping): the relay cuts that hop, and the viewer's with it.
    upstream.pause();
    expect((await closeOf(client)).code).toBe(1006);
    await until(() => relay.open === 0);
  });

  it('carries at most maxRelays views; past it a viewer gets unavailable', async () => {
    const { front, holder } = await setUp({ maxRelays: 1 });
    const first = front.open('s-1');
    await once(first, 'open');
    await holder.next();
    const second = front.open('s-1');
    expect(await closeOf(second)).toEqual({ code: 4503, reason: 'unavailable' });
    first.close();
  });

  it('relays nothing for a session of this node, an ended or unknown one, an unannounced node, or a request relayed already', async () => {
    for (const [options, id] of [
      [{ sessionNode: 'node-b' }, 's-1'],
      [{ sessionState: 'ended' }, 's-1'],
      [{}, 'missing'],
      [{ sessionNode: 'node-c' }, 's-1'],
    ] as const) {
      const { front, holder } = await setUp(options);
      const client = front.open(id);
      expect(await closeOf(client)).toEqual({ code: 4999, reason: 'served here' });
      expect(holder.handshakes).toHaveLength(0);
    }
    // A request another node relayed here, validly signed: served here, never relayed on.
    {
      const { front, lookups } = await setUp();
      const signed = createRelaySigner({ clusterKey: KEY }).headers('GET', '/api/sessions/s-1/live', 'https://webasset.example', { ip: '203.0.113.5', proto: 'https', host: 'webasset.example' }, 'node-c');
      expect(await closeOf(front.open('s-1', signed))).toEqual({ code: 4999, reason: 'served here' });
      expect(lookups).toEqual([]);
    }
    // Not a WebSocket upgrade, or no caller: not even looked up.
    for (const facts of [{ ws: false }, { principal: undefined }]) {
      const { front, lookups } = await setUp({ facts });
      expect(await closeOf(front.open('s-1'))).toEqual({ code: 4999, reason: 'served here' });
      expect(lookups).toEqual([]);
    }
  });
});
