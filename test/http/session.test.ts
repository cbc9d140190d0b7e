import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_VALUE_PREFIX } from '../../src/identity/index.js';
import { Browser, enrolLocalUser, type LocalUser } from '../support/accounts.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MINUTE = 60_000;
const COOKIE = 'webasset';
const SHAPE = new RegExp(`^${SESSION_VALUE_PREFIX}[A-Za-z0-9_-]{43}$`);

async function events(t: TestServer, prefix: string) {
  await t.services.audit.trail.flush();
  const page = await t.services.audit.reader.search({ actionPrefix: prefix }, { limit: 500, order: 'asc' });
  return page.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
}

describe('web sessions over HTTP (plain http: cookie `webasset`)', () => {
  const clock = new ManualClock(Date.now());
  let t: TestServer;
  let user: LocalUser;
  /** Every cookie value and CSRF token handed out, for the canary checks at the end. */
  const secrets: string[] = [];
  const browsers: Browser[] = [];

  const signIn = async (planted?: string): Promise<Browser> => {
    const browser = new Browser(t.url);
    browsers.push(browser);
    if (planted) browser.jar.set(COOKIE, planted);
    const res = await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password });
    expect(res.status, res.text).toBe(200);
    const who = await browser.call('GET', '/api/auth/session');
    expect(who.status).toBe(200);
    secrets.push(browser.jar.get(COOKIE)!, browser.csrf!);
    return browser;
  };

  beforeAll(async () => {
    // Many sign-ins from one address: on Redis the per-IP window runs on real time, not on this clock.
    t = await startTestServer({ LOG_LEVEL: 'trace', WEBASSET_SIGNIN_IP_LIMIT: '1000' }, { clock });
    user = await enrolLocalUser(t, { username: 'sam', password: 'sessions passphrase 123', roles: ['operator'] });
  });
  afterAll(async () => t.stop());

  it('sets a new HttpOnly, SameSite=Lax session cookie at sign-in and never adopts one the browser already had', async () => {
    const planted = `${SESSION_VALUE_PREFIX}${'P'.repeat(43)}`;
    const browser = new Browser(t.url);
    browser.jar.set(COOKIE, planted);
    const res = await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(200);
    const line = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(line).toMatch(/; HttpOnly/i);
    expect(line).toMatch(/; SameSite=Lax/i);
    expect(line).toMatch(/; Path=\//i);
    expect(line).not.toMatch(/; Secure/i);
    expect(line).not.toMatch(/Domain=/i);
    const value = browser.jar.get(COOKIE)!;
    expect(value).toMatch(SHAPE);
    expect(value).not.toBe(planted);
    const who = await browser.call('GET', '/api/auth/session');
    expect(who.body).toMatchObject({ via: 'session', user: { id: user.id, username: user.username } });
    expect(who.body.csrfToken).toEqual(expect.any(String));
    secrets.push(value, browser.csrf!);
    const attacker = new Browser(t.url);
    attacker.jar.set(COOKIE, planted);
    expect((await attacker.call('GET', '/api/auth/session')).status).toBe(401);
  });

  it('ends the session the browser still had when someone signs in again on it (shared machine)', async () => {
    const browser = await signIn();
    const first = browser.jar.get(COOKIE)!;
    const res = await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(200);
    const second = browser.jar.get(COOKIE)!;
    expect(second).not.toBe(first);
    secrets.push(second);
    const old = new Browser(t.url);
    old.jar.set(COOKIE, first);
    expect((await old.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(200);
    const ended = (await events(t, 'session.')).filter((e) => e.action !== 'session.created' && e.details.reason === 'signed_in_again');
    expect(ended.length).toBeGreaterThan(0);
  });

  it('refuses an altered cookie with 401, clears it, and records the attempt', async () => {
    const browser = await signIn();
    const value = browser.jar.get(COOKIE)!;
    const before = (await events(t, 'auth.session.failed')).length;
    const altered = new Browser(t.url);
    altered.jar.set(COOKIE, value.slice(0, -2) + (value.endsWith('AA') ? 'BB' : 'AA'));
    const res = await altered.call('GET', '/api/auth/sessions');
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('unauthenticated');
    expect(res.headers.getSetCookie().join()).toMatch(/webasset=;.*Expires=Thu, 01 Jan 1970/i);
    expect(await events(t, 'auth.session.failed')).toHaveLength(before + 1);
    // The real one still works.
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(200);
  });

  it('ends a session after 15 idle minutes, and keeps an active one', async () => {
    const idle = await signIn();
    const active = await signIn();
    clock.advance(10 * MINUTE);
    expect((await active.call('GET', '/api/auth/session')).status).toBe(200);
    clock.advance(10 * MINUTE);
    expect((await active.call('GET', '/api/auth/session')).status).toBe(200);
    expect((await idle.call('GET', '/api/auth/session')).status).toBe(401);
  });

  it('ends a session 12 hours after sign-in however active it is', async () => {
    const browser = await signIn();
    for (let elapsed = 0; elapsed < 12 * 60 - 10; elapsed += 10) {
      clock.advance(10 * MINUTE);
      expect((await browser.call('GET', '/api/auth/session')).status, `after ${elapsed + 10} min`).toBe(200);
    }
    clock.advance(10 * MINUTE);
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(401);
  });

  it('gives the session a new id at its next request after a role change; the old cookie stops working', async () => {
    const browser = await signIn();
    const old = browser.jar.get(COOKIE)!;
    const snapshot = await t.services.users.sessionUser(user.id);
    await t.services.sessions.refreshUser({ ...snapshot!, roles: ['operator', 'auditor'] });
    const res = await browser.call('GET', '/api/auth/session');
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ roles: ['operator', 'auditor'] });
    const fresh = browser.jar.get(COOKIE)!;
    expect(fresh).toMatch(SHAPE);
    expect(fresh).not.toBe(old);
    secrets.push(fresh);
    const stale = new Browser(t.url);
    stale.jar.set(COOKIE, old);
    expect((await stale.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(200);
    expect((await events(t, 'session.rotated')).length).toBeGreaterThan(0);
  });

  it('gives a new CSRF token with the new id: the request that rotates is still checked against the old one, later ones only the new one', async () => {
    const browser = await signIn();
    const before = browser.csrf!;
    const snapshot = await t.services.users.sessionUser(user.id);
    await t.services.sessions.refreshUser({ ...snapshot!, roles: ['operator', 'auditor'] });
    // A state change (ending a session that is not there: 404 once past the CSRF check) made under the old privileges,
    // with the token the page had: it rotates the session and passes the check.
    const change = () => browser.call('DELETE', `/api/auth/sessions/${randomUUID()}`);
    const rotating = await change();
    expect(rotating.status, rotating.text).toBe(404);
    expect(browser.jar.get(COOKIE)).not.toBe(secrets.at(-2));
    // The old token no longer works on the new session id.
    const replayed = await change();
    expect(replayed.status).toBe(403);
    expect(replayed.body.error?.code).toBe('csrf_failed');
    // The page asks for the session again (as the web UI does on csrf_failed) and gets the new token.
    const who = await browser.call('GET', '/api/auth/session');
    expect(who.status).toBe(200);
    expect(browser.csrf).not.toBe(before);
    secrets.push(browser.jar.get(COOKIE)!, browser.csrf!);
    expect((await change()).status).toBe(404);
  });

  it('logs out: the cookie is cleared, the session ends everywhere, and the end is recorded', async () => {
    const browser = await signIn();
    const value = browser.jar.get(COOKIE)!;
    const { sessionId } = (await browser.call('GET', '/api/auth/session')).body as { sessionId: string };
    const res = await browser.call('POST', '/api/auth/logout');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ loggedOut: true, logoutUrl: null });
    expect(browser.jar.has(COOKIE)).toBe(false);
    const replay = new Browser(t.url);
    replay.jar.set(COOKIE, value);
    expect((await replay.call('GET', '/api/auth/session')).status).toBe(401);
    const ended = (await events(t, 'session.ended')).filter((e) => e.targetId === sessionId);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ actorId: user.id, details: { reason: 'logout' } });
  });

  it('lists my sessions, ends one of them, answers 404 for anyone else\'s, and logs out everywhere', async () => {
    const other = await enrolLocalUser(t, { username: 'olga', password: 'another passphrase 456', roles: ['operator'] });
    const otherBrowser = new Browser(t.url);
    expect((await otherBrowser.call('POST', '/api/auth/login', { username: other.username, password: other.password })).status).toBe(200);
    const otherSession = ((await otherBrowser.call('GET', '/api/auth/session')).body as { sessionId: string }).sessionId;
    secrets.push(otherBrowser.jar.get(COOKIE)!, otherBrowser.csrf!);

    await t.services.sessions.revokeAllForUser(user.id, null, 'test reset');
    const one = await signIn();
    const two = await signIn();
    const three = await signIn();
    const list = await one.call('GET', '/api/auth/sessions');
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as Array<{ sessionId: string; current: boolean; method: string }>;
    expect(sessions).toHaveLength(3);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(list.text).not.toContain(one.jar.get(COOKIE)!);
    expect(list.text).not.toContain(one.csrf!);

    expect((await one.call('DELETE', `/api/auth/sessions/${otherSession}`)).status).toBe(404);
    expect((await otherBrowser.call('GET', '/api/auth/session')).status).toBe(200);
    expect((await one.call('DELETE', '/api/auth/sessions/not-a-session')).status).toBe(404);

    const twoId = ((await two.call('GET', '/api/auth/session')).body as { sessionId: string }).sessionId;
    expect((await one.call('DELETE', `/api/auth/sessions/${twoId}`)).status).toBe(204);
    expect((await two.call('GET', '/api/auth/session')).status).toBe(401);

    const all = await three.call('POST', '/api/auth/logout-all');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ ended: 2 });
    expect((await one.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await three.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await otherBrowser.call('GET', '/api/auth/session')).status).toBe(200);
  });

  it('answers a bearer caller without a CSRF token, and does not log tokens out', async () => {
    const token = await t.token('auditor');
    const who = await fetch(`${t.url}/api/auth/session`, { headers: { authorization: `Bearer ${token}` } });
    expect(who.status).toBe(200);
    expect(await who.json()).toMatchObject({ via: 'api_token', csrfToken: null, sessionId: null });
    const out = await fetch(`${t.url}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(out.status).toBe(400);
  });

  it('never puts a cookie value or CSRF token in a log line or an audit record', async () => {
    expect(secrets.length).toBeGreaterThan(10);
    await t.services.audit.trail.flush();
    const logs = t.logs.text();
    expect(logs).toContain('/api/auth/session');
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(t.services.database.db);
    const audit = rows.map((r) => r.row).join('\n');
    expect(audit).toContain('session.created');
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  });
});

describe.runIf(TEST_DATABASE_URL)('two nodes on one PostgreSQL (and one Redis with TEST_REDIS_URL)', () => {
  let first: TestServer;
  let second: TestServer;
  // Nodes of one deployment share the keys that seal shared data.
  const shared = { WEBASSET_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') };
  beforeAll(async () => {
    first = await startTestServer(shared);
    const { databaseUrl, redisUrl, redisKeyPrefix } = first.services.config;
    second = await startTestServer({
      ...shared,
      DATABASE_URL: databaseUrl!,
      ...(redisUrl ? { REDIS_URL: redisUrl, WEBASSET_REDIS_KEY_PREFIX: redisKeyPrefix } : {}),
      WEBASSET_NODE_ID: 'second-node',
    });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('a session from one node works on the other, and revoking all of a user\'s sessions on one is refused on the other at once', async () => {
    const user = await enrolLocalUser(first, { username: 'nina', password: 'two nodes passphrase 789', roles: ['operator'] });
    const browser = new Browser(first.url);
    expect((await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password })).status).toBe(200);
    const onSecond = new Browser(second.url);
    onSecond.jar.set(COOKIE, browser.jar.get(COOKIE)!);
    expect((await onSecond.call('GET', '/api/auth/session')).status).toBe(200);
    expect(await first.services.sessions.revokeAllForUser(user.id, null, 'user_disabled')).toBe(1);
    // No waiting: nothing is cached, so the very next request on the other node is refused.
    expect((await onSecond.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(401);
  });
});
