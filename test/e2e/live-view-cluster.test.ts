import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { CLUSTER_BACKENDS, startTestCluster, type ClusterNode as Node, type TestCluster } from '../support/cluster-nodes.js';
import { freePort } from '../support/free-port.js';
import { ARTIFACTS, CANARIES, cookieOf, expectNothingLeaked, focusTransferRecipient, watchedContext } from '../support/web-ui.js';
import { sessionCaller, type Caller } from '../http/admin-callers.js';
import { LiveClient, openLiveSocket } from '../http/live-view-fixtures.js';

const actor = { kind: 'user' as const, id: 'test-admin', name: 'Test admin' };


/**
 * The production column of DESIGN.md: two product nodes on one PostgreSQL and one Redis, each
 * announced in the node registry, the demo bank opened in real Chromium on node A, and its live
 * view reached through node B (decision 0020, live-view relay).
 */
describe.skipIf(!CLUSTER_BACKENDS)('live view through another node (PostgreSQL + Redis, two nodes)', () => {
  let cluster: TestCluster;
  let a: Node;
  let b: Node;
  let portal: DemoPortal;
  let browser: Browser;
  let olga: Caller;
  let ama: Caller;
  let otto: Caller;
  const callerOn = (node: Node, origin: Node) => cluster.callerOn(node, origin);
  const wsUrl = (node: Node, id: string) => `${node.url.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(id)}/live`;

  const request = (node: Node, caller: Caller, method: string, path: string, body?: unknown) => cluster.request(node, caller, method, path, body);

  async function startOnA(): Promise<string> {
    const started = await request(a, olga, 'POST', '/api/sessions', { assetId: 'demo-bank' });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const id = started.json.id as string;
    expect(started.json.nodeId ?? 'node-a').toBe('node-a');
    return id;
  }

  /** Attach records of a session, newest first, as node A wrote them. */
  async function attaches(sessionId: string) {
    await a.services.audit.trail.flush();
    const page = await a.services.audit.reader.search({ actionPrefix: 'browser_session.attached' }, { limit: 50, order: 'desc' });
    return page.events.filter((event) => event.targetId === sessionId);
  }

  beforeAll(async () => {
    // Node B stands behind a load balancer on 127.0.0.1 (the test's clients): it believes their X-Forwarded-For; A does not.
    // B alone lists one more browser origin, so that A can refuse a view B let through (the relay's refusal path).
    cluster = await startTestCluster({ b: { WEBASSET_CORS_ORIGINS: 'https://ui.example' } });
    ({ a, b } = cluster);
    portal = createDemoPortal(DEMO_CREDENTIALS);
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(a.services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, TEST_ADMIN);
    olga = await sessionCaller(callerOn(a, a), 'olga', ['operator']);
    ama = await sessionCaller(callerOn(a, a), 'amaro', ['admin']);
    otto = await sessionCaller(callerOn(a, a), 'otto', ['operator']);
    await a.services.grants.create({ subjectKind: 'user', subjectId: olga.userId!, assetId: 'demo-bank', actions: ['connect'] }, TEST_ADMIN);
    await a.services.grants.create({ subjectKind: 'user', subjectId: otto.userId!, assetId: 'demo-bank', actions: ['connect'] }, TEST_ADMIN);
    await a.services.grants.create({ subjectKind: 'user', subjectId: ama.userId!, assetId: 'demo-bank', actions: ['watch'] }, TEST_ADMIN);
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await portal?.stop();
  });

  it('relays a view to the node holding the session: frames, a watcher counted there, the client address signed, refusals as on a direct connection, and the end from node B', async () => {
    const sessionId = await startOnA();
    expect((await request(b, olga, 'GET', `/api/sessions/${sessionId}`)).json).toMatchObject({ nodeId: 'node-a' });

    // The owner's view through node B, from a client behind B's load balancer: frames arrive, and the view has the keyboard.
    const viaB = new LiveClient(new WebSocket(wsUrl(b, sessionId), { headers: { cookie: olga.headers('GET').cookie!, origin: b.url, 'x-forwarded-for': '198.51.100.7' } }), true);
    await viaB.until(() => viaB.frames.length > 0, 'a frame through node B');
    expect(viaB.texts.find((m) => m.type === 'state')).toMatchObject({ mode: 'control' });
    expect(viaB.frames[0]!.subarray(0, 2).equals(Buffer.from([0xff, 0xd8]))).toBe(true); // JPEG, as sent by node A
    // Node A recorded the attach with the client's address that B determined (signed), not B's own.
    await expect.poll(async () => (await attaches(sessionId))[0]?.sourceIp, { timeout: 10_000 }).toBe('198.51.100.7');
    expect((await attaches(sessionId))[0]).toMatchObject({ nodeId: 'node-a', actorId: olga.userId });

    // A watcher through B is counted by the owner's view: every view of the session is on node A now.
    const watcher = new LiveClient(new WebSocket(wsUrl(b, sessionId), { headers: { cookie: ama.headers('GET').cookie!, origin: b.url } }), true);
    await watcher.until(() => watcher.frames.length > 0, 'a frame for the watcher');
    expect(watcher.text('state')).toMatchObject({ mode: 'watch' });
    await viaB.until(() => viaB.texts.some((m) => m.type === 'watchers' && m.count === 1), 'the watcher counted');
    expect(viaB.texts.filter((m) => m.type === 'watchers').at(-1)).toMatchObject({ count: 1, names: ['amaro'] });
    // A watcher's input is refused by node A, as on a direct view.
    watcher.send({ type: 'key', action: 'down', key: 'Tab', code: 'Tab' });
    await watcher.until(() => watcher.texts.some((m) => m.type === 'error' && m.code === 'read_only'), 'read_only');
    watcher.close();
    await watcher.closed;
    await viaB.until(() => viaB.texts.filter((m) => m.type === 'watchers').at(-1)?.count === 0, 'the watcher gone');

    // Straight to A, a client's own X-Forwarded-For is not believed (A trusts no proxy), nor one under a forged signature.
    const before = (await attaches(sessionId)).length;
    const direct = new LiveClient(new WebSocket(wsUrl(a, sessionId), { headers: { cookie: ama.headers('GET').cookie!, origin: a.url, 'x-forwarded-for': '203.0.113.9' } }), true);
    await direct.until(() => direct.frames.length > 0, 'a direct frame');
    direct.close();
    const forged = new LiveClient(
      new WebSocket(wsUrl(a, sessionId), {
        headers: {
          cookie: ama.headers('GET').cookie!,
          origin: a.url,
          'x-forwarded-for': '203.0.113.10',
          'x-forwarded-proto': 'http',
          'x-forwarded-host': new URL(a.url).host,
          'x-webasset-relay': `v1;t=${Date.now()};n=node-b;s=${randomBytes(32).toString('base64url')}`,
        },
      }),
      true,
    );
    await forged.until(() => forged.frames.length > 0, 'a frame with a forged signature');
    forged.close();
    await expect.poll(async () => (await attaches(sessionId)).length, { timeout: 10_000 }).toBe(before + 2);
    expect((await attaches(sessionId)).slice(0, 2).map((e) => e.sourceIp)).toEqual(['127.0.0.1', '127.0.0.1']);

    // A foreign Origin is refused by node B itself (403, audited there), before any connection to A.
    await b.services.audit.trail.flush();
    const refusedBefore = (await b.services.audit.reader.search({ actionPrefix: 'auth.csrf.failed' }, { limit: 50, order: 'desc' })).events.length;
    const attachesBefore = (await attaches(sessionId)).length;
    const foreign = await openLiveSocket(wsUrl(b, sessionId), { cookie: olga.headers('GET').cookie!, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body!)).toMatchObject({ error: { code: 'csrf_failed' } });
    await b.services.audit.trail.flush();
    const refused = (await b.services.audit.reader.search({ actionPrefix: 'auth.csrf.failed' }, { limit: 50, order: 'desc' })).events;
    expect(refused.length).toBe(refusedBefore + 1);
    expect(refused[0]).toMatchObject({ nodeId: 'node-b', actorId: olga.userId });
    expect(JSON.parse(refused[0]!.details)).toMatchObject({ reason: 'cross_site', websocket: true });
    // Anonymous through B: 401 at B.
    expect((await openLiveSocket(wsUrl(b, sessionId), { origin: b.url })).status).toBe(401);
    expect((await attaches(sessionId)).length).toBe(attachesBefore);

    // Another operator gets through B what he gets directly: not_found, close 4404.
    const ottoViaB = await openLiveSocket(wsUrl(b, sessionId), { cookie: otto.headers('GET').cookie!, origin: b.url });
    const ottoOnA = await openLiveSocket(wsUrl(a, sessionId), { cookie: otto.headers('GET').cookie!, origin: a.url });
    expect(ottoViaB).toEqual(ottoOnA);
    expect(ottoViaB.close).toEqual({ code: 4404, reason: 'not found' });
    expect(ottoViaB.messages.map((m) => JSON.parse(m) as unknown)).toEqual([{ type: 'error', code: 'not_found', message: 'Not found.' }]);

    // Node A not announced (withdrawn, expired): B relays nowhere and answers as before, not_found (A's heartbeat brings it back).
    const entry = await b.services.state.get('cluster:node:node-a');
    expect(entry).toEqual({ url: a.url });
    await b.services.state.delete('cluster:node:node-a');
    const unannounced = await openLiveSocket(wsUrl(b, sessionId), { cookie: olga.headers('GET').cookie!, origin: b.url });
    expect(unannounced.close).toEqual({ code: 4404, reason: 'not found' });
    // Announced at an address where nothing answers: unavailable, close 4503.
    await b.services.state.set('cluster:node:node-a', { url: `http://127.0.0.1:${await freePort()}` }, 30_000);
    const unreachable = await openLiveSocket(wsUrl(b, sessionId), { cookie: olga.headers('GET').cookie!, origin: b.url });
    expect(unreachable.close).toEqual({ code: 4503, reason: 'unavailable' });
    expect(unreachable.messages.map((m) => JSON.parse(m) as unknown)).toEqual([{ type: 'error', code: 'unavailable', message: 'The session cannot be shown right now; try again shortly.' }]);
    await b.services.state.set('cluster:node:node-a', entry, 30_000);

    // The owner ends the session through node B's API: node A closes it, and the relayed view gets the end and its close code.
    const ended = await request(b, olga, 'DELETE', `/api/sessions/${sessionId}`);
    expect(ended.status).toBe(200);
    expect(await viaB.closed).toEqual({ code: 4410, reason: 'session ended: user' });
    expect(viaB.text('ended')).toEqual({ type: 'ended', reason: 'user' });

    // Nothing but pixels carried a secret: no canary in any text message, nor in either node's logs; no cookie in B's logs.
    const texts = [viaB, watcher, direct, forged].flatMap((c) => c.texts.map((m) => JSON.stringify(m)));
    for (const secret of CANARIES) {
      expect(texts.filter((t) => t.includes(secret))).toEqual([]);
      expect(a.logs.text()).not.toContain(secret);
      expect(b.logs.text()).not.toContain(secret);
    }
    expect(b.logs.text()).not.toContain(/^webasset=(.*)$/.exec(olga.headers('GET').cookie!)![1]!);
  }, 180_000);

  it('refuses through node B what it refuses on a direct connection: signed out, access revoked (at the open and while watching), the session ended', async () => {
    /** What a viewer can tell of an answer: the HTTP refusal (status, code, message) or the messages and the close. */
    const seen = (opening: Awaited<ReturnType<typeof openLiveSocket>>) => {
      if (opening.status === undefined) return { messages: opening.messages.filter((m) => !m.startsWith('<')), close: opening.close };
      const { error } = JSON.parse(opening.body!) as { error: { code: string; message: string } };
      return { status: opening.status, code: error.code, message: error.message };
    };
    const both = async (caller: Caller, sessionId: string) => {
      const headers = (node: Node) => ({ ...(caller.headers('GET').cookie ? { cookie: caller.headers('GET').cookie! } : {}), origin: node.url });
      return { viaB: seen(await openLiveSocket(wsUrl(b, sessionId), headers(b))), onA: seen(await openLiveSocket(wsUrl(a, sessionId), headers(a))) };
    };
    const rita = await sessionCaller(callerOn(a, a), 'rita', ['operator']);
    const sam = await sessionCaller(callerOn(a, a), 'sam', ['admin']);
    await a.services.grants.create({ subjectKind: 'user', subjectId: rita.userId!, assetId: 'demo-bank', actions: ['connect'] }, TEST_ADMIN);
    await a.services.grants.create({ subjectKind: 'user', subjectId: sam.userId!, assetId: 'demo-bank', actions: ['watch'] }, TEST_ADMIN);
    const started = await request(a, rita, 'POST', '/api/sessions', { assetId: 'demo-bank' });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const sessionId = started.json.id as string;

    // Signed out: the watcher's web session is gone; both nodes refuse the upgrade with the same 401.
    const samWatching = new LiveClient(new WebSocket(wsUrl(b, sessionId), { headers: { cookie: sam.headers('GET').cookie!, origin: b.url } }), true);
    await samWatching.until(() => samWatching.frames.length > 0, 'a frame for the watcher through B');
    expect((await request(b, sam, 'POST', '/api/auth/logout')).status).toBe(200);
    const signedOut = await both(sam, sessionId);
    expect(signedOut.viaB).toEqual(signedOut.onA);
    expect(signedOut.viaB).toMatchObject({ status: 401, code: 'unauthenticated' });
    samWatching.close();
    await samWatching.closed;

    // Node A refuses before its upgrade what node B let through (here an Origin only B lists): the viewer gets A's HTTP refusal,
    // as a direct upgrade to A does, and not a close code after B's upgrade.
    const uiOrigin = { cookie: rita.headers('GET').cookie!, origin: 'https://ui.example' };
    const refusedByA = seen(await openLiveSocket(wsUrl(b, sessionId), uiOrigin));
    expect(refusedByA).toEqual(seen(await openLiveSocket(wsUrl(a, sessionId), uiOrigin)));
    expect(refusedByA).toMatchObject({ status: 403, code: 'csrf_failed' });

    // Access revoked while viewing: the owner's views through B and straight on A get the same end.
    const viaB = new LiveClient(new WebSocket(wsUrl(b, sessionId), { headers: { cookie: rita.headers('GET').cookie!, origin: b.url } }), true);
    const onA = new LiveClient(new WebSocket(wsUrl(a, sessionId), { headers: { cookie: rita.headers('GET').cookie!, origin: a.url } }), true);
    await viaB.until(() => viaB.frames.length > 0, 'a frame through B');
    await onA.until(() => onA.frames.length > 0, 'a direct frame');
    await a.services.users.disable(rita.userId!, TEST_ADMIN, 'left the bank');
    const [endedViaB, endedOnA] = await Promise.all([viaB.closed, onA.closed]);
    expect(endedViaB).toEqual(endedOnA);
    expect(endedViaB.code).toBe(4410);
    expect(viaB.text('ended')).toEqual(onA.text('ended'));
    // ... and at the next open: the same 401 on both.
    const revoked = await both(rita, sessionId);
    expect(revoked.viaB).toEqual(revoked.onA);
    expect(revoked.viaB).toMatchObject({ status: 401, code: 'unauthenticated' });

    // The session ended: an administrator allowed to watch it gets the same end message and close code through B as on A.
    const ended = await both(ama, sessionId);
    expect(ended.viaB).toEqual(ended.onA);
    expect(ended.viaB.close).toEqual({ code: 4410, reason: 'session ended: admin' });
    // Someone else's session (no watch grant), ended or not: not_found on both.
    const foreign = await both(otto, sessionId);
    expect(foreign.viaB).toEqual(foreign.onA);
    expect(foreign.viaB.close).toEqual({ code: 4404, reason: 'not found' });
  }, 180_000);

  it('the web UI on node B: the operator types into the demo bank held by node A, sees an administrator watching through B, and ends the session from B', async () => {
    const sessionId = await startOnA();
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(olga), url: b.url }]);
    const page = await context.newPage();
    await page.goto(`${b.url}/sessions/${encodeURIComponent(sessionId)}`);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('live-keys');

    // Keys through B reach the page on A: read back from the session's page on node A.
    const owner = { kind: 'user' as const, id: olga.userId!, name: 'olga', roles: ['operator' as const], groups: [], via: 'session' as const, mfa: true };
    const remote = async () => {
      const handle = await a.server.browser.sessions.agent(sessionId, owner);
      return handle.controls.snapshot({ redact: handle.redact });
    };
    await focusTransferRecipient(page, async () => (await remote()).page.url);
    await page.keyboard.type('Relayed via node B');
    await expect.poll(async () => (await remote()).text, { timeout: 15_000 }).toContain('Relayed via node B');

    // An administrator watches through B as well: the banner on the operator's page names her.
    const admin = await watchedContext(browser);
    await admin.context.addCookies([{ name: 'webasset', value: cookieOf(ama), url: b.url }]);
    const adminPage = await admin.context.newPage();
    await adminPage.goto(`${b.url}/sessions/${encodeURIComponent(sessionId)}`);
    await expect.poll(() => adminPage.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Watching (read-only)');
    await expect.poll(() => page.locator('#live-watchers').textContent(), { timeout: 15_000 }).toBe('Being watched (read-only) by: amaro');
    await page.screenshot({ path: join(ARTIFACTS, 'live-session-relayed.en.png') });
    await admin.context.close();
    await page.locator('#live-watchers').waitFor({ state: 'detached', timeout: 15_000 });

    // "End session" on the page served by B: B's DELETE ends it, A closes it, the relayed socket brings the end.
    await page.locator('#live-end').click();
    await page.locator('#live-end-confirm button[type="submit"]').click();
    await expect.poll(() => page.locator('#live-ended-reason').textContent(), { timeout: 15_000 }).toBe('You ended it');
    expect((await request(a, olga, 'GET', `/api/sessions/${sessionId}`)).json).toMatchObject({ state: 'ended', endReason: 'user', nodeId: 'node-a' });

    await expectNothingLeaked(watch, [await page.content()]);
    expect(admin.watch.violations).toEqual([]);
    await context.close();
  }, 240_000);
});
