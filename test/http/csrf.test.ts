import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { insertSessionUser } from '../support/session-user.js';

interface Signed {
  cookie: string;
  csrfToken: string;
  sessionId: string;
}

async function signedIn(t: TestServer): Promise<Signed> {
  const user = await insertSessionUser(t.services.database.db);
  const s = await t.services.sessions.create({ user, mfa: false, method: 'password', context: {} });
  return { cookie: `webasset=${s.cookieValue}`, csrfToken: s.csrfToken, sessionId: s.sessionId };
}

async function post(t: TestServer, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

async function csrfEvents(t: TestServer) {
  await t.services.audit.trail.flush();
  const page = await t.services.audit.reader.search({ actionPrefix: 'auth.csrf.failed' }, { limit: 500, order: 'asc' });
  return page.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
}

const stillSignedIn = async (t: TestServer, s: Signed) => (await fetch(`${t.url}/api/auth/session`, { headers: { cookie: s.cookie } })).status === 200;

describe('CSRF protection of cookie-authenticated state changes', () => {
  let t: TestServer;
  let own: string;
  const tokens: string[] = [];
  beforeAll(async () => {
    t = await startTestServer();
    own = new URL(t.url).origin;
  });
  afterAll(async () => t.stop());

  const track = (s: Signed) => {
    tokens.push(s.csrfToken, s.cookie.split('=')[1]!);
    return s;
  };

  it('refuses a state change without the token, changes nothing, and records why', async () => {
    const s = track(await signedIn(t));
    const res = await post(t, '/api/auth/logout', { cookie: s.cookie });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('csrf_failed');
    expect(await stillSignedIn(t, s)).toBe(true);
    const last = (await csrfEvents(t)).at(-1)!;
    expect(last).toMatchObject({ outcome: 'denied', actorKind: 'user', details: { reason: 'missing_token', method: 'POST', route: '/api/auth/logout' } });
  });

  it('refuses a wrong token, and the token of another session', async () => {
    const s = track(await signedIn(t));
    const other = track(await signedIn(t));
    for (const token of ['', 'x', `${s.csrfToken}x`, s.csrfToken.slice(1), other.csrfToken]) {
      const res = await post(t, '/api/auth/logout', { cookie: s.cookie, 'x-csrf-token': token });
      expect(res.status, `token ${token.length}`).toBe(403);
      expect(res.body.error?.code).toBe('csrf_failed');
    }
    expect(await stillSignedIn(t, s)).toBe(true);
    expect((await csrfEvents(t)).at(-1)?.details.reason).toBe('wrong_token');
  });

  it('refuses a cross-site request even with the right token (Origin, Sec-Fetch-Site, opaque origin)', async () => {
    const s = track(await signedIn(t));
    const cases: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: own.replace('127.0.0.1', 'localhost') },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const extra of cases) {
      const res = await post(t, '/api/auth/logout', { cookie: s.cookie, 'x-csrf-token': s.csrfToken, ...extra });
      expect(res.status, JSON.stringify(extra)).toBe(403);
      expect(res.body.error?.code).toBe('csrf_failed');
    }
    expect(await stillSignedIn(t, s)).toBe(true);
    expect((await csrfEvents(t)).at(-1)?.details.reason).toBe('cross_site');
  });

  it('lets a same-origin request with the right token through', async () => {
    const s = track(await signedIn(t));
    const res = await post(t, '/api/auth/logout', { cookie: s.cookie, 'x-csrf-token': s.csrfToken, origin: own, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(200);
    expect(await stillSignedIn(t, s)).toBe(false);
  });

  it('does not check reads', async () => {
    const s = track(await signedIn(t));
    const res = await fetch(`${t.url}/api/auth/session`, { headers: { cookie: s.cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
  });

  it('exempts bearer requests: a browser never attaches a token by itself', async () => {
    const token = await t.token('auditor');
    const res = await post(t, '/api/auth/logout', { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    // Refused for what it is (a token has no session to end), not by the CSRF check.
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_request');
  });

  it('checks the origin of public state changes too (a forged sign-in)', async () => {
    const res = await post(t, '/api/auth/login', { origin: 'https://evil.example' }, { username: 'someone', password: 'whatever passphrase' });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('csrf_failed');
    expect((await csrfEvents(t)).at(-1)).toMatchObject({ actorId: 'anonymous', details: { reason: 'cross_site', route: '/api/auth/login' } });
  });

  it('never records a token, right or wrong', async () => {
    const all = JSON.stringify(await csrfEvents(t));
    for (const secret of tokens) expect(all).not.toContain(secret);
  });
});

describe('CSRF origin check with a public URL and CORS origins', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_PUBLIC_URL: 'http://gateway.example.test', WEBASSET_CORS_ORIGINS: 'https://console.example.test' });
  });
  afterAll(async () => t.stop());

  it('accepts the public URL\'s origin and allowlisted origins, and nothing else', async () => {
    for (const [origin, status] of [
      ['http://gateway.example.test', 200],
      ['https://console.example.test', 200],
      ['https://console.example.test.evil.example', 403],
      ['http://gateway.example.test:8443', 403],
    ] as const) {
      const s = await signedIn(t);
      const res = await post(t, '/api/auth/logout', { cookie: s.cookie, 'x-csrf-token': s.csrfToken, origin });
      expect(res.status, origin).toBe(status);
    }
  });
});
