import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, LiveClient, startPortalSite, type PortalSite } from './live-view-fixtures.js';

/**
 * The live view end to end: a real server, a real Chromium logging into a portal of our own,
 * real WebSocket clients for the owner, a watcher and another operator.
 */
const PASSWORD = 'live-view-canary-Pa55word-7d1f';
const ASSET = 'live-portal';

describe('live view of a browser session (real Chromium)', () => {
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let watcher: Caller;
  let other: Caller;
  let sessionId: string;
  const clients: LiveClient[] = [];
  const cookieOf = (caller: Caller) => caller.headers('GET').cookie!;
  const open = (caller: Caller, options: { autoAck?: boolean } = {}) => {
    const client = LiveClient.open(ts.url, sessionId, cookieOf(caller), options);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    owner = await sessionCaller(ts, 'live-owner', ['operator']);
    watcher = await sessionCaller(ts, 'live-watcher', ['operator']);
    // May use the asset, but not someone else's session of it.
    other = await sessionCaller(ts, 'live-other', ['operator']);
    await addPortalAsset(ts, site, { assetId: ASSET, password: PASSWORD, connect: [owner, other], watch: [watcher] });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await ts?.stop();
    await site?.close();
  });

  it('shows signing_in while the login runs, and frames only after it', async () => {
    site.holdLogins();
    const started = call(ts, owner, 'POST', '/api/sessions', { assetId: ASSET });
    // The session exists (logging in) while the portal holds the login's POST.
    for (;;) {
      const list = await call(ts, owner, 'GET', '/api/sessions');
      const sessions = (list.json as { sessions?: Array<{ id: string; state: string }> }).sessions ?? (list.json as Array<{ id: string; state: string }>);
      const found = Array.isArray(sessions) ? sessions.find((s) => s.state === 'logging_in') : undefined;
      if (found) {
        sessionId = found.id;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const viewer = open(owner);
    await viewer.until(() => viewer.text('signing_in') !== undefined, 'signing_in');
    expect(viewer.texts[0]).toMatchObject({ type: 'state', state: 'logging_in', mode: 'control' });
    await viewer.until(() => viewer.text('tabs') !== undefined, 'tabs');
    expect(viewer.frames).toHaveLength(0);
    site.releaseLogins();
    const answer = await started;
    expect(answer.status).toBe(201);
    await viewer.until(() => viewer.frames.length >= 2, 'frames');
    // The first frame is announced: the page is now the operator's to see.
    expect(viewer.order.indexOf('signing_in')).toBeLessThan(viewer.order.indexOf('frame'));
    const active = viewer.texts.findIndex((m) => m.type === 'state' && m.state === 'active');
    expect(active).toBeGreaterThan(-1);
    expect(viewer.frames[0]!.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff])); // JPEG
  });

  it('delivers typed text with accents to the portal, and ignores a watcher’s input', async () => {
    const viewer = open(owner);
    const watching = open(watcher);
    await watching.until(() => watching.frames.length >= 1, 'a frame for the watcher');
    expect(watching.texts[0]).toMatchObject({ type: 'state', mode: 'watch' });
    // The watcher tries to type and click: refused, and nothing reaches the page.
    watching.send({ type: 'mouse', action: 'down', x: 100, y: 35, button: 'left' });
    watching.send({ type: 'text', text: 'WATCHER' });
    watching.send({ type: 'key', action: 'down', key: 'Enter' });
    await watching.until(() => watching.texts.filter((m) => m.type === 'error' && m.code === 'read_only').length >= 3, 'read_only errors');
    // A watcher may size its own frames (not the page): no refusal for that. Messages are handled in order, so once the
    // marker is answered, the resize was too.
    watching.send({ type: 'resize', width: 640, height: 400 });
    watching.send('marker');
    await watching.until(() => watching.text('error') !== undefined && watching.texts.some((m) => m.code === 'invalid_message'), 'the marker reply');
    expect(watching.texts.filter((m) => m.type === 'error').map((m) => m.code)).toEqual(['read_only', 'read_only', 'read_only', 'invalid_message']);
    // Its frames are smaller, but the page keeps the owner's size.
    expect(watching.texts.some((m) => m.type === 'state' && (m.viewport as { width: number } | null)?.width === 640)).toBe(false);

    await viewer.until(() => viewer.frames.length >= 1, 'a frame for the owner');
    const note = site.nextNote();
    const typed = 'Crème brûlée, señor — ação, Größe ü';
    viewer.send({ type: 'mouse', action: 'move', x: 100, y: 35 });
    viewer.send({ type: 'mouse', action: 'down', x: 100, y: 35, button: 'left' });
    viewer.send({ type: 'mouse', action: 'up', x: 100, y: 35, button: 'left' });
    viewer.send({ type: 'text', text: typed });
    viewer.send({ type: 'key', action: 'down', key: 'Enter', code: 'Enter' });
    viewer.send({ type: 'key', action: 'up', key: 'Enter', code: 'Enter' });
    expect(await note).toBe(typed);
    expect(viewer.texts.filter((m) => m.type === 'error')).toEqual([]);
  });

  it('answers bad messages with invalid_message and keeps the socket open', async () => {
    const viewer = open(owner);
    await viewer.until(() => viewer.text('state') !== undefined, 'state');
    viewer.send('not json');
    viewer.send({ type: 'mouse', action: 'down', x: Number.MAX_VALUE, y: 1 });
    viewer.send({ type: 'cdp', method: 'Runtime.evaluate', params: { expression: 'document.cookie' } });
    viewer.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    viewer.send({ type: 'switch_tab', tabId: 'no-such-tab' });
    await viewer.until(() => viewer.texts.filter((m) => m.type === 'error').length >= 5, 'five errors');
    expect(viewer.texts.filter((m) => m.type === 'error').map((m) => m.code)).toEqual(['invalid_message', 'invalid_message', 'invalid_message', 'invalid_message', 'tab_not_found']);
    const tabs = viewer.text('tabs')!.tabs as Array<{ id: string; active: boolean; url: string }>;
    expect(tabs).toHaveLength(1);
    expect(tabs[0]).toMatchObject({ active: true, url: `${site.url}note` });
    viewer.send({ type: 'switch_tab', tabId: tabs[0]!.id });
    viewer.send({ type: 'resize', width: 800, height: 600 });
    await viewer.until(() => viewer.texts.some((m) => m.type === 'state' && (m.viewport as { width: number } | null)?.width === 800), 'the new viewport');
    expect(viewer.ws.readyState).toBe(viewer.ws.OPEN);
  });

  it('closes a socket that sends an oversized message (1009) or fifty invalid ones in a row (4400)', async () => {
    const big = open(owner);
    await big.until(() => big.text('state') !== undefined, 'state');
    big.send({ type: 'text', text: 'x'.repeat(200 * 1024) });
    expect((await big.closed).code).toBe(1009);
    const noisy = open(owner);
    await noisy.until(() => noisy.text('state') !== undefined, 'state');
    for (let i = 0; i < 50; i++) noisy.send({ type: 'nonsense', i });
    expect(await noisy.closed).toEqual({ code: 4400, reason: 'too many invalid messages' });
  });

  it('lists a tab the page opens, and switches between tabs', async () => {
    type Tab = { id: string; url: string; active: boolean };
    const viewer = open(owner);
    const tabs = () => (viewer.texts.filter((m) => m.type === 'tabs').at(-1)?.tabs ?? []) as Tab[];
    await viewer.until(() => tabs().length === 1, 'the tab list');
    const first = tabs()[0]!;
    viewer.send({ type: 'mouse', action: 'down', x: 60, y: 135, button: 'left' });
    viewer.send({ type: 'mouse', action: 'up', x: 60, y: 135, button: 'left' });
    await viewer.until(() => tabs().length === 2, 'two tabs');
    const second = tabs().find((t) => t.id !== first.id)!;
    expect(second.url).toBe(`${site.url}note`);
    viewer.send({ type: 'switch_tab', tabId: second.id });
    await viewer.until(() => tabs().find((t) => t.id === second.id)?.active === true, 'the new tab active');
    viewer.send({ type: 'switch_tab', tabId: first.id });
    await viewer.until(() => tabs().find((t) => t.id === first.id)?.active === true, 'the first tab active again');
    expect(viewer.texts.filter((m) => m.type === 'error')).toEqual([]);
  });

  it('refuses another operator, even with the right id, exactly like an id that does not exist', async () => {
    const intruder = open(other);
    expect(await intruder.closed).toEqual({ code: 4404, reason: 'not found' });
    expect(intruder.texts).toEqual([{ type: 'error', code: 'not_found', message: 'Not found.' }]);
    expect(intruder.frames).toHaveLength(0);
    const guess = LiveClient.open(ts.url, `${sessionId.slice(0, -1)}0`, cookieOf(other));
    clients.push(guess);
    expect(await guess.closed).toEqual({ code: 4404, reason: 'not found' });
    expect(guess.texts).toEqual(intruder.texts);
  });

  it('a viewer that never acks gets two frames and no more, while the page keeps changing', async () => {
    const slow = open(owner, { autoAck: false });
    const fast = open(owner);
    await slow.until(() => slow.frames.length >= 2, 'two frames');
    // The page ticks every 40 ms: the keeping-up viewer sees many frames meanwhile, the slow one none.
    const from = fast.frames.length;
    await fast.until(() => fast.frames.length >= from + 10, 'ten more frames for the other viewer');
    expect(slow.frames).toHaveLength(2);
    // Nothing waits in the server's socket buffer for it either.
    for (const socket of ts.server.http.websocketServer.clients) expect(socket.bufferedAmount).toBeLessThan(1024 * 1024);
    slow.send({ type: 'ack' });
    await slow.until(() => slow.frames.length >= 3, 'a third frame after one ack');
    await fast.until(() => fast.frames.length >= from + 20, 'ten more frames for the other viewer');
    expect(slow.frames).toHaveLength(3);
  });

  it('refuses a ninth viewer of one session, and has room again once one leaves', async () => {
    for (const client of clients) client.close();
    await Promise.all(clients.map((client) => client.closed));
    const eight = Array.from({ length: 8 }, () => open(owner));
    await Promise.all(eight.map((v) => v.until(() => v.text('state') !== undefined, 'state')));
    const ninth = open(owner);
    expect(await ninth.closed).toEqual({ code: 4429, reason: 'too many viewers' });
    expect(ninth.texts.at(-1)).toMatchObject({ type: 'error', code: 'too_many_viewers' });
    eight[0]!.close();
    await eight[0]!.closed;
    // The server counts the leaver out when its side of the socket closes, a moment after ours.
    for (let attempt = 0; ; attempt++) {
      const again = open(owner);
      await again.until(() => again.texts.length > 0, 'an answer');
      if (again.texts[0]!.type === 'state') break;
      expect(attempt).toBeLessThan(20);
      await again.closed;
    }
    for (const client of clients) client.close();
    await Promise.all(clients.map((client) => client.closed));
  });

  it('ends every viewer with the reason when the session ends, and never sent the password in a message', async () => {
    // The server counts closed viewers out a moment after they close (see above).
    let viewers: LiveClient[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      viewers = [open(owner), open(watcher)];
      await Promise.all(viewers.map((v) => v.until(() => v.texts.length > 0, 'an answer')));
      if (viewers.every((v) => v.texts[0]!.type === 'state')) break;
      viewers.forEach((v) => v.close());
    }
    await Promise.all(viewers.map((v) => v.until(() => v.text('state') !== undefined, 'state')));
    const ended = await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`);
    expect(ended.status).toBe(200);
    for (const viewer of viewers) {
      expect(await viewer.closed).toEqual({ code: 4410, reason: 'session ended: user' });
      expect(viewer.texts.at(-1)).toEqual({ type: 'ended', reason: 'user' });
    }
    const everything = clients.flatMap((c) => c.texts.map((m) => JSON.stringify(m))).join('\n');
    expect(everything).not.toContain(PASSWORD);
    // An ended session: its owner hears that it ended, and nothing else happens.
    const late = open(owner);
    expect(await late.closed).toMatchObject({ code: 4410 });
    expect(late.texts).toEqual([{ type: 'ended', reason: 'user' }]);
  });
});
