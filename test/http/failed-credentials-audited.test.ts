import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE, INSECURE_SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { REPEATED_FAILURE_WINDOW_MS } from '../../src/identity/index.js';
import { Browser, codeAt, enrolLocalUser, TEST_ADMIN } from '../support/accounts.js';
import { startTestServer, TEST_REDIS_URL, type TestServer } from '../support/server.js';

// Every failed credential is recorded: on public routes too (the caller then goes on as anonymous), and at each step of
// sign-in. GET /authz, asked for every request a browser makes, records one failing credential once per window.

const PROXY = '127.0.0.1';
const STEP = 30_000;

describe('failed credentials are audited', () => {
  let t: TestServer;
  let now = Date.UTC(2026, 7, 3, 9, 0, 0);
  const clock = { now: () => now };
  let ip = 1;
  const browser = () => new Browser(t.url, { 'x-forwarded-for': `203.0.113.${ip++}` });

  beforeAll(async () => {
    t = await startTestServer(
      {
        WEBASSET_TRUSTED_PROXIES: 'loopback',
        WEBASSET_SIGNIN_IP_LIMIT: '100000',
        WEBASSET_FORWARD_AUTH: JSON.stringify({ signInUrl: 'https://gw.example.com/login', rules: [{ host: 'wiki.example.com', anySignedInUser: true }] }),
      },
      { clock },
    );
  });
  afterAll(async () => t?.stop());

  const events = async (action: string) => {
    await t.services.audit.trail.flush();
    const page = await t.services.audit.reader.search({ actionPrefix: action }, { limit: 500, order: 'asc' });
    return page.events.map((e) => ({ requestId: e.requestId, actorId: e.actorId, details: JSON.parse(e.details) as Record<string, unknown> }));
  };
  const authz = (headers: Record<string, string>) =>
    t.server.http.inject({
      method: 'GET',
      url: '/authz',
      headers: { host: 'gw.internal:8080', 'x-forwarded-host': 'wiki.example.com', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'https', ...headers },
      remoteAddress: PROXY,
    });

  it('on a public route, an unknown, revoked or malformed token is recorded at each attempt, and the caller is anonymous', async () => {
    const before = (await events('auth.token.failed')).length;
    const created = await t.services.tokens.create({ name: 'soon revoked', role: 'operator', createdBy: TEST_ADMIN });
    await t.services.tokens.revoke(created.id, TEST_ADMIN);
    const b = browser();
    for (const header of ['Bearer wa_not_a_token_at_all', 'Bearer wa_not_a_token_at_all', `Bearer ${created.token}`, 'Bearer']) {
      const res = await b.call('GET', '/api/auth/options', undefined, { authorization: header });
      expect(res.status).toBe(200);
    }
    const recorded = (await events('auth.token.failed')).slice(before);
    expect(recorded).toHaveLength(4);
    expect(recorded.map((e) => e.details.reason)).toEqual([
      'unknown, revoked or expired token',
      'unknown, revoked or expired token',
      'unknown, revoked or expired token',
      'malformed authorization header',
    ]);
    expect(recorded.every((e) => e.details.publicRoute === true && e.actorId === 'anonymous')).toBe(true);
    expect(JSON.stringify(recorded)).not.toContain(created.token);
  });

  it('on a public route, an altered or ended session cookie is recorded at each attempt, and cleared', async () => {
    const before = (await events('auth.session.failed')).length;
    const b = browser();
    for (let i = 0; i < 3; i++) {
      const res = await b.call('GET', '/api/auth/options', undefined, { cookie: `${INSECURE_SESSION_COOKIE}=altered-${i}` });
      expect(res.status).toBe(200);
      expect(res.headers.getSetCookie().some((line) => line.startsWith(`${INSECURE_SESSION_COOKIE}=;`))).toBe(true);
    }
    // A real session that was signed out: its cookie no longer works.
    const user = await enrolLocalUser(t, { username: 'gwen', password: 'a passphrase long enough', roles: ['operator'] });
    const signedIn = browser();
    expect((await signedIn.call('POST', '/api/auth/login', { username: user.username, password: user.password })).status).toBe(200);
    const stale = signedIn.jar.get(INSECURE_SESSION_COOKIE)!;
    expect((await signedIn.call('POST', '/api/auth/logout')).status).toBeLessThan(300);
    expect((await browser().call('GET', '/api/auth/options', undefined, { cookie: `${INSECURE_SESSION_COOKIE}=${stale}` })).status).toBe(200);
    const recorded = (await events('auth.session.failed')).slice(before);
    expect(recorded).toHaveLength(4);
    expect(recorded.every((e) => e.details.publicRoute === true)).toBe(true);
    expect(JSON.stringify(recorded)).not.toContain(stale);
  });

  it('GET /authz records one failing credential once per window, however often it comes, and each other credential', async () => {
    const sessionsBefore = (await events('auth.session.failed')).length;
    const tokensBefore = (await events('auth.token.failed')).length;
    for (let i = 0; i < 5; i++) {
      const res = await authz({ cookie: `${SESSION_COOKIE}=stale-cookie-of-a-browser` });
      expect(res.statusCode).toBe(401);
    }
    expect((await authz({ cookie: `${SESSION_COOKIE}=another-stale-cookie` })).statusCode).toBe(401);
    for (let i = 0; i < 5; i++) expect((await authz({ authorization: 'Bearer wa_unknown_token_for_authz' })).statusCode).toBe(401);
    const sessions = (await events('auth.session.failed')).slice(sessionsBefore);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]!.details).toMatchObject({ publicRoute: true, repeatsUnrecordedForSeconds: REPEATED_FAILURE_WINDOW_MS / 1000 });
    expect((await events('auth.token.failed')).slice(tokensBefore)).toHaveLength(1);
    if (!TEST_REDIS_URL) {
      // In-process, the window follows the server's clock (in Redis it is Redis's own time: not waited for here).
      now += REPEATED_FAILURE_WINDOW_MS + 1;
      expect((await authz({ cookie: `${SESSION_COOKIE}=stale-cookie-of-a-browser` })).statusCode).toBe(401);
      expect((await events('auth.session.failed')).slice(sessionsBefore)).toHaveLength(3);
    }
  });

  it('a wrong code at the enrolment step of sign-in is recorded like a wrong code at the MFA step', async () => {
    const user = await t.services.users.create({ username: 'enya', roles: ['operator'], source: 'local' }, TEST_ADMIN);
    const link = await t.services.users.createEnrolmentLink(user.id, 'enrol', TEST_ADMIN);
    const token = new URL(link.url).searchParams.get('token')!;
    expect((await browser().call('POST', `/api/auth/enrolment/${token}/password`, { password: 'she has a long passphrase' })).body).toMatchObject({ done: true });
    await t.services.users.update(user.id, { roles: ['admin'] }, TEST_ADMIN);
    const b = browser();
    expect((await b.call('POST', '/api/auth/login', { username: 'enya', password: 'she has a long passphrase' })).body.error?.code).toBe('mfa_enrolment_required');
    const start = await b.call('POST', '/api/auth/login/enrol/totp/start');
    expect(start.status).toBe(200);
    const wrong = await b.call('POST', '/api/auth/login/enrol/totp/confirm', { code: codeAt(start.body.secret as string, now + 10 * STEP) });
    expect(wrong.status).toBe(400);
    const failed = (await events('auth.login.failed')).filter((e) => e.details.username === 'enya');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actorId: user.id, details: { reason: 'bad_totp', step: 'enrol' } });
  });

  it('a replayed or expired pre-auth step is recorded (login_expired)', async () => {
    now += 2 * STEP;
    const user = await enrolLocalUser(t, { username: 'ivo', password: 'a long passphrase of his', roles: ['admin'], totpAt: now });
    now += 2 * STEP;
    const before = (await events('auth.login.failed')).length;
    // Replayed: the pre-auth cookie of a completed sign-in, sent again.
    const b = browser();
    expect((await b.call('POST', '/api/auth/login', { username: 'ivo', password: user.password })).body).toMatchObject({ mfaRequired: true });
    const preAuthCookies = [...b.jar].filter(([name]) => name !== INSECURE_SESSION_COOKIE);
    expect((await b.call('POST', '/api/auth/login/mfa', { code: codeAt(user.secret!, now) })).status).toBe(200);
    const replay = new Browser(t.url, { 'x-forwarded-for': `203.0.113.${ip++}` });
    for (const [name, value] of preAuthCookies) replay.jar.set(name, value);
    const replayed = await replay.call('POST', '/api/auth/login/mfa', { code: codeAt(user.secret!, now) });
    expect(replayed.body.error?.code).toBe('login_expired');
    // Expired: a step left for longer than its lifetime.
    const late = browser();
    expect((await late.call('POST', '/api/auth/login', { username: 'ivo', password: user.password })).body).toMatchObject({ mfaRequired: true });
    now += 6 * 60_000;
    expect((await late.call('POST', '/api/auth/login/mfa', { code: codeAt(user.secret!, now) })).body.error?.code).toBe('login_expired');
    // Malformed, at the enrolment step.
    expect((await browser().call('POST', '/api/auth/login/enrol/totp/start', undefined, { cookie: preAuthCookies.map(([n]) => `${n}=not-a-step`).join('; ') })).body.error?.code).toBe('login_expired');
    const recorded = (await events('auth.login.failed')).slice(before).filter((e) => e.details.reason === 'login_expired');
    expect(recorded.map((e) => e.details.step)).toEqual(['mfa', 'mfa', 'enrol']);
    expect(recorded.map((e) => e.details.preAuth)).toEqual(['unknown_or_used', expect.stringMatching(/^(expired|unknown_or_used)$/), 'malformed']);
  });
});
