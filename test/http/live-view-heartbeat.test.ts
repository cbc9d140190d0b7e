import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { keepAlive } from '../../src/http/live-view/heartbeat.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, LiveClient, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';

/** Resolves once `socket` has received `count` pings more than it had when called (the server beat that often). */
function pings(socket: WebSocket, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onPing = () => {
      if (++seen < count) return;
      socket.off('ping', onPing);
      resolve();
    };
    socket.on('ping', onPing);
  });
}

describe('keepAlive (the live view heartbeat)', () => {
  let wss: WebSocketServer;
  const serverSockets: WebSocket[] = [];
  const stops = new Map<WebSocket, () => void>();
  const clients: WebSocket[] = [];

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (socket) => {
      serverSockets.push(socket);
      stops.set(socket, keepAlive(socket, 50));
    });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.terminate();
  });
  afterAll(async () => {
    for (const socket of wss.clients) socket.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  async function connect(options: { autoPong: boolean }): Promise<{ client: WebSocket; server: WebSocket }> {
    const before = serverSockets.length;
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { autoPong: options.autoPong });
    clients.push(client);
    await once(client, 'open');
    while (serverSockets.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
    return { client, server: serverSockets.at(-1)! };
  }

  it('keeps a peer that answers its pings, beat after beat', async () => {
    const { client, server } = await connect({ autoPong: true });
    await pings(client, 5);
    expect(client.readyState).toBe(WebSocket.OPEN);
    expect(server.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a peer that stops answering, and the socket closes as any dropped one (1006)', async () => {
    const { client, server } = await connect({ autoPong: false });
    const clientClosed = once(client, 'close');
    const [code] = (await once(server, 'close')) as [number];
    expect(code).toBe(1006);
    // No closing handshake: the peer learns it only from the connection's end.
    expect(((await clientClosed) as [number])[0]).toBe(1006);
  });

  it('counts no miss while this side has paused reading (the pong is there, unread)', async () => {
    const { client, server } = await connect({ autoPong: true });
    server.pause();
    // Several beats pass while paused: the client keeps getting nothing, and the socket stays.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.readyState).toBe(WebSocket.OPEN);
    server.resume();
    await pings(client, 3);
    expect(server.readyState).toBe(WebSocket.OPEN);
  });

  it('stops when asked, and lets go of the socket when it closes', async () => {
    const { client, server } = await connect({ autoPong: false });
    stops.get(server)!();
    // Beats would have cut this silent peer several times over by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.readyState).toBe(WebSocket.OPEN);
    const second = await connect({ autoPong: true });
    expect(second.server.listenerCount('pong')).toBe(1);
    second.client.close();
    await once(second.server, 'close');
    expect(second.server.listenerCount('pong')).toBe(0);
    client.close();
  });
});

describe('live view heartbeat on a real server (real Chromium)', () => {
  const PASSWORD = 'heartbeat-canary-Pa55word-4be1';
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let watcher: Caller;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    // The shortest interval the setting takes, so the test runs a few beats quickly.
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000', WEBASSET_LIVE_VIEW_PING_SECONDS: '1' });
    owner = await sessionCaller(ts, 'beat-owner', ['operator']);
    watcher = await sessionCaller(ts, 'beat-watcher', ['admin']);
    await addPortalAsset(ts, site, { assetId: 'beat-portal', password: PASSWORD, connect: [owner], watch: [watcher] });
  });
  afterAll(async () => {
    for (const client of clients) client.ws.terminate();
    await ts?.stop();
    await site?.close();
  });

  const open = (caller: Caller, sessionId: string, autoPong = true) => {
    const ws = new WebSocket(`${ts.url.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(sessionId)}/live`, {
      headers: { cookie: caller.headers('GET').cookie!, origin: ts.url },
      autoPong,
    });
    const client = new LiveClient(ws, true);
    clients.push(client);
    return client;
  };

  it('cuts a watcher that stops answering pings (the owner sees the count drop) and keeps the owner, who answers, across several beats', async () => {
    const sessionId = await startSession(ts, owner, 'beat-portal');
    const control = open(owner, sessionId);
    await control.until(() => control.text('watchers') !== undefined, 'the first watchers message');
    const silent = open(watcher, sessionId, false);
    await silent.until(() => silent.text('state') !== undefined, 'the watcher attached');
    await control.until(() => control.texts.some((m) => m.type === 'watchers' && m.count === 1), 'one watcher');
    // The server gets no pong from the watcher: it terminates the socket, and the roster lets the owner know.
    await control.until(() => control.texts.filter((m) => m.type === 'watchers').at(-1)?.count === 0, 'the silent watcher cut');
    await silent.closed;
    // The owner's browser-like client answers: still served after several more beats.
    await pings(control.ws, 3);
    expect(control.ws.readyState).toBe(WebSocket.OPEN);
    const framesBefore = control.frames.length;
    await control.until(() => control.frames.length > framesBefore, 'frames still flowing');
    control.close();
    await control.closed;
  });
});
