import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../src/core/index.js';
import { createGroups, type Principal } from '../../src/identity/index.js';
import { TestBrowser } from '../support/oidc-browser.js';
import { startTestIdp, type IdpUser, type TestIdp } from '../support/oidc-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freePort } from '../support/free-port.js';

// Everything over real HTTP: a real OpenID provider (oidc-provider) on port 0, our server, and a
// small browser that follows redirects by hand and keeps cookies.

const CLIENT_SECRET = 'oidc-client-secret-canary-7c1f2a9b4e6d';
const TX_COOKIE = 'webasset-oidc';
const ADMIN: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

interface Setup {
  idp: TestIdp;
  t: TestServer;
  app: string;
}

async function startPair(users: IdpUser[], env: Record<string, string> = {}, conformIdTokenClaims = false): Promise<Setup> {
  const port = await freePort();
  const app = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({
    redirectUris: [`${app}/auth/oidc/callback`],
    postLogoutRedirectUris: [`${app}/auth/oidc/logged-out`],
    clientSecret: CLIENT_SECRET,
    users,
    conformIdTokenClaims,
  });
  const t = await startTestServer({
    PORT: String(port),
    WEBASSET_PUBLIC_URL: app,
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    ...env,
  });
  return { idp, t, app };
}

const isCallback = (app: string) => (url: URL) => url.href.startsWith(`${app}/auth/oidc/callback`);

/** GET /auth/oidc/login: our 303 to the provider's authorization endpoint. */
async function startLogin(browser: TestBrowser, app: string, returnTo?: string): Promise<URL> {
  const res = await browser.request(`${app}/auth/oidc/login${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  expect(res.status, await res.clone().text()).toBe(303);
  return new URL(res.headers.get('location')!);
}

/** At the provider: sign in as `username` and stop just before the browser reaches our callback. */
async function loginAtProvider(browser: TestBrowser, s: Setup, authUrl: URL, username: string, action: 'login' | 'abort' = 'login'): Promise<URL> {
  const atLogin = await browser.follow(authUrl, isCallback(s.app));
  // Still signed in at the provider (an earlier sign-in in this browser): straight back to us.
  if (atLogin.response === null && action === 'login') return atLogin.url;
  expect(atLogin.url.pathname).toMatch(/^\/interaction\//);
  await atLogin.response!.arrayBuffer();
  const posted = await browser.request(new URL(`${atLogin.url.pathname}/${action}`, s.idp.issuer), { method: 'POST', body: `username=${encodeURIComponent(username)}` });
  expect(posted.status).toBe(303);
  const back = await browser.follow(new URL(posted.headers.get('location')!, s.idp.issuer), isCallback(s.app));
  expect(back.response).toBeNull();
  return back.url;
}

async function signIn(browser: TestBrowser, s: Setup, username: string, returnTo?: string): Promise<Response> {
  const authUrl = await startLogin(browser, s.app, returnTo);
  const callback = await loginAtProvider(browser, s, authUrl, username);
  return browser.request(callback);
}

async function whoAmI(browser: TestBrowser, app: string) {
  const res = await browser.request(`${app}/api/auth/session`);
  return { status: res.status, body: (await res.json()) as { user?: { id: string; name: string; roles: string[]; groups: Array<{ name: string }> }; mfa?: boolean; via?: string; csrfToken?: string } };
}

async function auditRows(t: TestServer, action: string) {
  await t.services.audit.trail.flush();
  const rows = await t.services.database.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute();
  return rows.map((r) => ({ ...r, details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown> }));
}

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('OpenID Connect sign-in against a real provider', () => {
  let s: Setup;
  const users: IdpUser[] = [
    { sub: 'sub-alice', username: 'alice', email: 'alice@bank.test', name: 'Alice Operator', groups: ['idp-ops', 'unmapped-group'] },
    { sub: 'sub-bob', username: 'bob', email: 'bob@bank.test', groups: ['idp-ops', 'idp-readers'] },
    { sub: 'sub-carol', username: 'carol', groups: ['idp-admins'], amr: ['pwd'] },
    { sub: 'sub-dave', username: 'dave', groups: ['idp-admins'], amr: ['pwd', 'otp'] },
    { sub: 'sub-erin', username: 'erin', groups: ['idp-auditors'], amr: ['pwd'], acr: 'goldmfa' },
    { sub: 'sub-frank', username: 'frank', groups: ['idp-ops'] },
    { sub: 'sub-gina', username: 'gina', groups: ['idp-ops'] },
    { sub: 'sub-hank', username: 'hank', groups: ['idp-ops'] },
  ];
  const browsers: TestBrowser[] = [];
  const responses: string[] = [];
  const codes: string[] = [];
  const idTokens: string[] = [];
  const record = async (res: Response) => {
    responses.push(JSON.stringify([...res.headers.entries()]) + (await res.clone().text()));
    return res;
  };

  beforeAll(async () => {
    s = await startPair(users, {
      OIDC_GROUP_MAP: 'idp-ops=operators,idp-readers=readers,idp-admins=admins,idp-auditors=auditors',
      OIDC_MFA_ACR: 'goldmfa',
      WEBASSET_RETURN_URL_HOSTS: 'portal.bank.test',
    });
    const groups = createGroups({ db: s.t.services.database.db, trail: s.t.services.audit.trail, clock: systemClock, ids: randomIds });
    await groups.create({ name: 'operators', roles: ['operator'] }, ADMIN);
    await groups.create({ name: 'readers', roles: ['operator'] }, ADMIN);
    await groups.create({ name: 'admins', roles: ['admin'] }, ADMIN);
    await groups.create({ name: 'auditors', roles: ['auditor'] }, ADMIN);
    // A group named like an unmapped claim value: with OIDC_GROUP_MAP set, it must not be joined.
    await groups.create({ name: 'unmapped-group', roles: ['admin'] }, ADMIN);
  });
  afterAll(async () => {
    await s?.t.stop();
    await s?.idp.stop();
  });

  const browser = () => {
    const b = new TestBrowser();
    browsers.push(b);
    return b;
  };

  it('signs a new person in: provisioned, mapped groups, a working session, audited', async () => {
    const b = browser();
    const authUrl = await startLogin(b, s.app, '/assets?view=mine');
    expect(authUrl.origin).toBe(s.idp.issuer);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authUrl.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(authUrl.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(authUrl.searchParams.get('redirect_uri')).toBe(`${s.app}/auth/oidc/callback`);
    expect(authUrl.searchParams.get('scope')).toBe('openid profile email');
    // Nothing of the transaction but its id reaches the browser.
    expect(b.cookie(TX_COOKIE, `${s.app}/auth/oidc/callback`)).toMatch(/^[\w-]{43}$/);
    expect(b.cookie(TX_COOKIE, `${s.app}/api/auth/session`)).toBeUndefined();

    const callback = await loginAtProvider(b, s, authUrl, 'alice');
    codes.push(callback.searchParams.get('code')!);
    const res = await record(await b.request(callback));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/assets?view=mine');
    const setCookies = res.headers.getSetCookie().join('\n');
    expect(setCookies).toMatch(/webasset=wss_[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax/);
    expect(b.cookie(TX_COOKIE, `${s.app}/auth/oidc/callback`)).toBeUndefined();

    const me = await whoAmI(b, s.app);
    expect(me.status).toBe(200);
    expect(me.body.via).toBe('session');
    expect(me.body.mfa).toBe(false);
    expect(me.body.user!.name).toBe('Alice Operator');
    expect(me.body.user!.roles).toEqual(['operator']);
    expect(me.body.user!.groups.map((g) => g.name)).toEqual(['operators']);

    const user = await s.t.services.users.findByUsername('alice');
    expect(user).toMatchObject({ source: 'oidc', email: 'alice@bank.test', disabled: false });
    const [event] = await auditRows(s.t, 'auth.sso.succeeded');
    expect(event).toMatchObject({ actor_id: user!.id, outcome: 'success', target_kind: 'user', target_id: user!.id });
    expect(event!.details).toMatchObject({ issuer: s.idp.issuer, subject: 'sub-alice', mfa: false, groups: ['operators'], roles: ['operator'] });
  });

  it('updates memberships at the next sign-in: a group removed at the provider disappears', async () => {
    const first = browser();
    expect((await signIn(first, s, 'bob')).status).toBe(303);
    expect((await whoAmI(first, s.app)).body.user!.groups.map((g) => g.name)).toEqual(['operators', 'readers']);

    s.idp.users.get('bob')!.groups = ['idp-readers'];
    const second = browser();
    expect((await signIn(second, s, 'bob')).status).toBe(303);
    expect((await whoAmI(second, s.app)).body.user!.groups.map((g) => g.name)).toEqual(['readers']);
    const bob = await s.t.services.users.findByUsername('bob');
    const synced = (await auditRows(s.t, 'group.memberships.synced')).filter((e) => e.target_id === bob!.id);
    expect(synced.at(-1)!.details.after).toEqual([{ group: 'readers', source: 'oidc' }]);
  });

  it('ends the session a browser had when it signs in again', async () => {
    const b = browser();
    expect((await signIn(b, s, 'hank')).status).toBe(303);
    const hank = await s.t.services.users.findByUsername('hank');
    const [first] = await s.t.services.sessions.listForUser(hank!.id);
    expect((await signIn(b, s, 'hank')).status).toBe(303);
    const live = await s.t.services.sessions.listForUser(hank!.id);
    expect(live).toHaveLength(1);
    expect(live[0]!.sessionId).not.toBe(first!.sessionId);
    expect((await whoAmI(b, s.app)).status).toBe(200);
  });

  it('refuses an admin whose provider did not do MFA, with mfa_required, audited, no session', async () => {
    const b = browser();
    const res = await record(await signIn(b, s, 'carol'));
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toBe('mfa_required');
    expect(res.headers.getSetCookie().join('\n')).not.toMatch(/webasset=wss_/);
    expect((await whoAmI(b, s.app)).status).toBe(401);
    const denied = (await auditRows(s.t, 'auth.sso.failed')).filter((e) => e.details.reason === 'mfa_required');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ outcome: 'denied' });
    expect(denied[0]!.details.subject).toBe('sub-carol');
  });

  it('accepts an admin whose provider reports MFA in amr, and an auditor by acr', async () => {
    const b = browser();
    expect((await signIn(b, s, 'dave')).status).toBe(303);
    const me = await whoAmI(b, s.app);
    expect(me.body.mfa).toBe(true);
    expect(me.body.user!.roles).toEqual(['admin']);

    const e = browser();
    expect((await signIn(e, s, 'erin')).status).toBe(303);
    const erin = await whoAmI(e, s.app);
    expect(erin.body.mfa).toBe(true);
    expect(erin.body.user!.roles).toEqual(['auditor']);
  });

  it('refuses a callback whose state does not match, and the transaction is spent', async () => {
    const b = browser();
    const callback = await loginAtProvider(b, s, await startLogin(b, s.app), 'frank');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'A'.repeat(43));
    const res = await record(await b.request(forged));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('sso_failed');
    // The real callback afterwards finds no transaction: one attempt per sign-in.
    const late = await b.request(callback);
    expect(await errorOf(late)).toBe('sso_failed');
    const reasons = (await auditRows(s.t, 'auth.sso.failed')).map((e) => e.details.reason);
    expect(reasons).toContain('state_mismatch');
  });

  it('refuses a replayed callback (same code, same transaction cookie)', async () => {
    const b = browser();
    const authUrl = await startLogin(b, s.app);
    const txId = b.cookie(TX_COOKIE, `${s.app}/auth/oidc/callback`)!;
    const callback = await loginAtProvider(b, s, authUrl, 'gina');
    expect((await b.request(callback)).status).toBe(303);
    const before = (await auditRows(s.t, 'auth.sso.failed')).length;
    const attacker = browser();
    attacker.setCookie(TX_COOKIE, txId, s.app, '/auth/oidc');
    const replay = await record(await attacker.request(callback));
    expect(replay.status).toBe(400);
    expect(await errorOf(replay)).toBe('sso_failed');
    const failed = await auditRows(s.t, 'auth.sso.failed');
    expect(failed).toHaveLength(before + 1);
    expect(failed.at(-1)!.details.reason).toBe('transaction_missing');
    expect((await whoAmI(attacker, s.app)).status).toBe(401);
  });

  it('refuses an ID token with another nonce', async () => {
    const b = browser();
    const authUrl = await startLogin(b, s.app);
    authUrl.searchParams.set('nonce', 'N'.repeat(43));
    const res = await record(await b.request(await loginAtProvider(b, s, authUrl, 'frank')));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('sso_failed');
    const failed = await auditRows(s.t, 'auth.sso.failed');
    expect(failed.at(-1)!.details.reason).toBe('id_token_invalid');
    expect(String(failed.at(-1)!.details.detail)).toMatch(/OAUTH_JWT_CLAIM_COMPARISON_FAILED/);
  });

  it('refuses a tampered code, and a provider error (person cancelled)', async () => {
    const b = browser();
    const callback = await loginAtProvider(b, s, await startLogin(b, s.app), 'frank');
    // Its first character changed, always to another one (a code once ended in the 'xx' this test wrote over its
    // last two, and was accepted); the first holds six whole bits of the code, where the last may hold padding.
    const code = callback.searchParams.get('code')!;
    callback.searchParams.set('code', `${code.startsWith('x') ? 'y' : 'x'}${code.slice(1)}`);
    const res = await record(await b.request(callback));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('sso_failed');
    expect((await auditRows(s.t, 'auth.sso.failed')).at(-1)!.details.reason).toBe('code_rejected');

    const c = browser();
    const cancelled = await loginAtProvider(c, s, await startLogin(c, s.app), 'frank', 'abort');
    expect(cancelled.searchParams.get('error')).toBe('access_denied');
    const res2 = await c.request(cancelled);
    expect(await errorOf(res2)).toBe('sso_failed');
    expect((await auditRows(s.t, 'auth.sso.failed')).at(-1)!.details.reason).toBe('provider_error');
  });

  it('refuses a callback without the transaction cookie', async () => {
    const res = await fetch(`${s.app}/auth/oidc/callback?code=abc&state=def`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('sso_failed');
    expect((await auditRows(s.t, 'auth.sso.failed')).at(-1)!.details.reason).toBe('transaction_missing');
  });

  it('refuses a disabled user with account_disabled', async () => {
    const b = browser();
    expect((await signIn(b, s, 'frank')).status).toBe(303);
    const frank = await s.t.services.users.findByUsername('frank');
    await s.t.services.users.disable(frank!.id, ADMIN, 'left the bank');
    const again = browser();
    const res = await record(await signIn(again, s, 'frank'));
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toBe('account_disabled');
    expect((await auditRows(s.t, 'auth.sso.failed')).at(-1)!.details.reason).toBe('account_disabled');
    expect((await whoAmI(again, s.app)).status).toBe(401);
  });

  it('refuses a returnTo that leaves the site (no open redirect), before anything starts', async () => {
    const bad = ['https://evil.test/', 'https://portal.bank.test.evil.test/', 'https://user:pw@portal.bank.test/', '//evil.test/x', '/\\evil.test', '\\\\evil.test', '/%2F%2Fevil.test', 'javascript:alert(1)', '/ok\r\nSet-Cookie: x=y', 'evil.test', `/${'a'.repeat(2100)}`];
    for (const returnTo of bad) {
      const b = browser();
      const res = await record(await b.request(`${s.app}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`));
      expect(res.status, returnTo).toBe(400);
      expect(['return_to_invalid', 'invalid_request'], returnTo).toContain(await errorOf(res));
      expect(res.headers.get('location'), returnTo).toBeNull();
      expect(b.cookieNames(), returnTo).not.toContain(TX_COOKIE);
    }
  });

  it('returns to an allowlisted portal host (as ForwardAuth sends people to sign in)', async () => {
    const b = browser();
    const res = await signIn(b, s, 'hank', 'https://portal.bank.test/loans?id=7');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://portal.bank.test/loans?id=7');
  });

  it('gives the provider logout URL with id_token_hint and post_logout_redirect_uri, and the provider accepts it', async () => {
    const b = browser();
    expect((await signIn(b, s, 'dave')).status).toBe(303);
    const me = await whoAmI(b, s.app);
    const res = await b.request(`${s.app}/api/auth/logout`, { method: 'POST', headers: { 'x-csrf-token': me.body.csrfToken!, origin: s.app } });
    expect(res.status).toBe(200);
    const { logoutUrl } = (await res.json()) as { logoutUrl: string };
    const url = new URL(logoutUrl);
    expect(url.origin).toBe(s.idp.issuer);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(`${s.app}/auth/oidc/logged-out`);
    expect(url.searchParams.get('client_id')).toBe(s.idp.clientId);
    const hint = url.searchParams.get('id_token_hint')!;
    expect(hint.split('.')).toHaveLength(3);
    idTokens.push(hint);
    expect((await whoAmI(b, s.app)).status).toBe(401);

    // The provider asks for confirmation, then sends the browser to our landing page.
    const page = await b.request(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    const action = /action="([^"]+)"/.exec(html)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const confirmed = await b.request(new URL(action, s.idp.issuer), { method: 'POST', body: `xsrf=${xsrf}&logout=yes` });
    const landed = await b.follow(new URL(confirmed.headers.get('location')!, s.idp.issuer));
    expect(landed.url.href.startsWith(`${s.app}/auth/oidc/logged-out`)).toBe(true);
    expect(await landed.response!.json()).toEqual({ signedOut: true });
  });

  it('never lets the client secret, a code or a token out: responses, logs, audit', async () => {
    expect(codes.length).toBeGreaterThan(0);
    expect(idTokens.length).toBeGreaterThan(0);
    expect(s.idp.issuedAccessTokens.length).toBeGreaterThan(0);
    const secrets = [CLIENT_SECRET, ...codes, ...s.idp.issuedAccessTokens];
    const all = responses.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret);
    // The ID token goes to the person's own browser only as the logout hint; never to logs or audit.
    for (const secret of [...secrets, ...idTokens]) expect(s.t.logs.text()).not.toContain(secret);
    await s.t.services.audit.trail.flush();
    const db = s.t.services.database.db;
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(db);
    const audit = rows.map((r) => r.row).join('\n');
    expect(audit).toContain('auth.sso.succeeded');
    for (const secret of [...secrets, ...idTokens]) expect(audit).not.toContain(secret);
    // No table holds the secret, a code or an access token (the ID token is kept server-side in
    // the session record, for the logout hint: that is its only place).
    const { rows: tables } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(db);
    let dump = '';
    for (const { tablename } of tables) {
      const { rows: all } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(tablename)} t`.execute(db);
      dump += all.map((r) => r.row).join('\n');
    }
    expect(dump).toContain('sub-alice');
    for (const secret of secrets) expect(dump).not.toContain(secret);
  });
});

describe('OpenID Connect with groups only in UserInfo', () => {
  it('reads the groups claim from UserInfo when the ID token lacks it', async () => {
    const s = await startPair([{ sub: 'sub-uma', username: 'uma', groups: ['ops'] }], {}, true);
    try {
      await createGroups({ db: s.t.services.database.db, trail: s.t.services.audit.trail, clock: systemClock, ids: randomIds }).create({ name: 'ops', roles: ['operator'] }, ADMIN);
      const b = new TestBrowser();
      expect((await signIn(b, s, 'uma')).status).toBe(303);
      const me = await whoAmI(b, s.app);
      expect(me.body.user!.groups.map((g) => g.name)).toEqual(['ops']);
    } finally {
      await s.t.stop();
      await s.idp.stop();
    }
  });
});

describe('OpenID Connect when the provider is down', () => {
  it('answers 503 sso_unavailable at the callback when the token endpoint cannot be reached, audited', async () => {
    const s = await startPair([{ sub: 'sub-vic', username: 'vic', groups: [] }]);
    try {
      const b = new TestBrowser();
      const callback = await loginAtProvider(b, s, await startLogin(b, s.app), 'vic');
      await s.idp.stop();
      const res = await b.request(callback);
      expect(res.status).toBe(503);
      expect(await errorOf(res)).toBe('sso_unavailable');
      expect((await auditRows(s.t, 'auth.sso.failed')).at(-1)!.details.reason).toBe('provider_unavailable');
      expect((await whoAmI(b, s.app)).status).toBe(401);
    } finally {
      await s.t.stop();
    }
  });

  it('answers 503 sso_unavailable (fail closed) and starts nothing', async () => {
    const s = await startPair([]);
    try {
      await s.idp.stop();
      const b = new TestBrowser();
      const res = await b.request(`${s.app}/auth/oidc/login`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('sso_unavailable');
      expect(body.error.message).not.toContain('127.0.0.1');
      expect(b.cookieNames()).not.toContain(TX_COOKIE);
      // While the server waits before asking again, the answer stays the same without reaching out.
      expect(await errorOf(await b.request(`${s.app}/auth/oidc/login`))).toBe('sso_unavailable');
      expect(s.t.logs.text()).toContain('OIDC discovery failed');
      expect(s.t.logs.text()).not.toContain(CLIENT_SECRET);
    } finally {
      await s.t.stop();
    }
  });

  it('warns at start that an http:// issuer is insecure', async () => {
    const s = await startPair([]);
    try {
      expect(s.t.logs.text()).toContain('OIDC_ISSUER uses http://');
    } finally {
      await s.t.stop();
      await s.idp.stop();
    }
  });
});

describe('OpenID Connect behind https', () => {
  it('names the sign-in cookie __Secure- and marks it Secure when the public URL is https', async () => {
    const idp = await startTestIdp({ redirectUris: ['https://webasset.test/auth/oidc/callback'], clientSecret: CLIENT_SECRET });
    const t = await startTestServer({ WEBASSET_PUBLIC_URL: 'https://webasset.test', OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: CLIENT_SECRET });
    try {
      const res = await fetch(`${t.url}/auth/oidc/login`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location')!).searchParams.get('redirect_uri')).toBe('https://webasset.test/auth/oidc/callback');
      const cookie = res.headers.getSetCookie().join('\n');
      expect(cookie).toMatch(/^__Secure-webasset-oidc=[\w-]{43}; Max-Age=600; Path=\/auth\/oidc; HttpOnly; Secure; SameSite=Lax$/);
    } finally {
      await t.stop();
      await idp.stop();
    }
  });
});

describe('OpenID Connect not configured', () => {
  it('answers sso_not_configured', async () => {
    const t = await startTestServer();
    try {
      const res = await fetch(`${t.url}/auth/oidc/login`, { redirect: 'manual' });
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toBe('sso_not_configured');
    } finally {
      await t.stop();
    }
  });
});
