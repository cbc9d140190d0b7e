import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createForwardAuthRules, createReturnUrlPolicy } from '../../src/access/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { AppError } from '../../src/core/index.js';
import { ROLES, type Principal, type SessionUser } from '../../src/identity/index.js';
import { createLoadShedder } from '../../src/http/load-shed.js';
import { createProxyTrust } from '../../src/http/proxy-trust.js';
import { headerValue } from '../../src/http/routes/authz.js';
import { INSECURE_SESSION_COOKIE, SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { signedInUser } from '../support/forward-auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

// GET /authz at the level of single requests (inject): who passes, who is sent to sign in, who is
// refused, and which request facts are believed. test/e2e/nginx-forward-auth.test.ts puts a real
// nginx in front.

const PROXY = '10.0.0.5';
const SIGN_IN = 'https://gw.example.com/login';
const RULES = {
  signInUrl: SIGN_IN,
  rules: [
    { host: 'app.example.com', groups: ['ops'] },
    { host: '*.tools.example.com', roles: ['admin'] },
    { host: 'wiki.example.com', anySignedInUser: true },
    { host: 'both.example.com', groups: ['ops'], roles: ['admin'] },
  ],
};

interface Call {
  host?: string;
  uri?: string;
  proto?: string;
  method?: string;
  cookie?: string;
  /** Direct peer: the trusted proxy by default. */
  from?: string;
  headers?: Record<string, string>;
  query?: string;
}

async function authz(t: TestServer, call: Call) {
  const headers: Record<string, string> = { host: 'gw.internal:8080', ...call.headers };
  if (call.host !== undefined) headers['x-forwarded-host'] = call.host;
  if (call.uri !== undefined) headers['x-forwarded-uri'] = call.uri;
  if (call.proto !== undefined) headers['x-forwarded-proto'] = call.proto;
  if (call.method !== undefined) headers['x-forwarded-method'] = call.method;
  if (call.cookie !== undefined) headers.cookie = call.cookie;
  return t.server.http.inject({ method: 'GET', url: `/authz${call.query ?? ''}`, headers, remoteAddress: call.from ?? PROXY });
}

async function signIn(t: TestServer, input: { username: string; email?: string | null; roles?: SessionUser['roles']; groups?: string[] }) {
  const session = await signedInUser(t, input);
  // Behind the proxy the original request is https, so the browser sends the __Host- cookie.
  return { ...session, cookie: `${SESSION_COOKIE}=${session.cookieValue}` };
}

async function denials(t: TestServer) {
  const page = await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 100, order: 'asc' });
  return page.events.map((e) => ({ actorId: e.actorId, targetId: e.targetId, details: JSON.parse(e.details) as Record<string, unknown> }));
}

describe('GET /authz', () => {
  let t: TestServer;
  let ops: Awaited<ReturnType<typeof signIn>>;
  let admin: Awaited<ReturnType<typeof signIn>>;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: PROXY, WEBASSET_FORWARD_AUTH: JSON.stringify(RULES) });
    ops = await signIn(t, { username: 'olga', email: 'olga@example.com', roles: ['operator'], groups: ['ops', 'Site Reliability'] });
    admin = await signIn(t, { username: 'ada', roles: ['admin'], groups: ['admins'] });
  });
  afterAll(async () => t?.stop());

  it('lets a member of the host rule group through, with the identity headers', async () => {
    const res = await authz(t, { host: 'app.example.com', uri: '/dashboards?x=1', proto: 'https', method: 'GET', cookie: ops.cookie });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-webasset-user']).toBe('olga');
    expect(res.headers['x-webasset-email']).toBe('olga%40example.com');
    expect(res.headers['x-webasset-groups']).toBe('Site%20Reliability,ops');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(t.services.forwardAuth.stats.allowed).toBeGreaterThan(0);
  });

  it('identifies by the cookie when an upstream app sends its own Basic credentials', async () => {
    const res = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: ops.cookie, headers: { authorization: 'Basic dXBzdHJlYW06cGFzcw==' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-webasset-user']).toBe('olga');
    expect((await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', headers: { authorization: 'Basic dXBzdHJlYW06cGFzcw==' } })).statusCode).toBe(401);
  });

  it('never takes identity headers from the client, nor echoes them', async () => {
    const spoof = { 'x-webasset-user': 'root', 'x-webasset-email': 'root@example.com', 'x-webasset-groups': 'admins,ops' };
    const anonymous = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', headers: spoof });
    expect(anonymous.statusCode).toBe(401);
    expect(JSON.stringify(anonymous.headers)).not.toContain('root');
    const signedIn = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: ops.cookie, headers: spoof });
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.headers['x-webasset-user']).toBe('olga');
    expect(signedIn.headers['x-webasset-groups']).not.toContain('admins');
    // A spoofed group does not open a host either.
    const admins = await authz(t, { host: 'x.tools.example.com', uri: '/', proto: 'https', cookie: ops.cookie, headers: spoof });
    expect(admins.statusCode).toBe(403);
  });

  it('sends an anonymous caller to sign in, with the original URL as return URL when its host is allowed', async () => {
    const res = await authz(t, { host: 'app.example.com', uri: '/dashboards?x=1&y=%2F', proto: 'https', method: 'GET' });
    expect(res.statusCode).toBe(401);
    const location = new URL(res.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(SIGN_IN);
    expect(location.searchParams.get('returnTo')).toBe('https://app.example.com/dashboards?x=1&y=%2F');
    const body = res.json<{ error: { code: string; details: { signInUrl: string } } }>();
    expect(body.error.code).toBe('unauthenticated');
    expect(body.error.details.signInUrl).toBe(res.headers.location);
    // Wildcard rule hosts are allowed return hosts too.
    const tools = await authz(t, { host: 'grafana.tools.example.com', uri: '/', proto: 'https' });
    expect(new URL(tools.headers.location as string).searchParams.get('returnTo')).toBe('https://grafana.tools.example.com/');
  });

  it('drops a return URL that would lead anywhere else (no open redirect)', async () => {
    const cases: Call[] = [
      { host: 'evil.example.net', uri: '/', proto: 'https' },
      { host: 'app.example.com.evil.example.net', uri: '/', proto: 'https' },
      { host: 'a.b.tools.example.com', uri: '/', proto: 'https' },
      { host: 'app.example.com', uri: '//evil.example.net/x', proto: 'https' },
      { host: 'app.example.com', uri: '/\\evil.example.net', proto: 'https' },
      { host: 'app.example.com', uri: 'https://evil.example.net/', proto: 'https' },
      { host: 'app.example.com@evil.example.net', uri: '/', proto: 'https' },
      { host: 'evil.example.net#app.example.com', uri: '/', proto: 'https' },
      { host: 'app.example.com', uri: '/', proto: 'javascript' },
      { host: 'app.example.com', uri: `/${'a'.repeat(3000)}`, proto: 'https' },
    ];
    for (const call of cases) {
      const res = await authz(t, call);
      expect(res.statusCode, JSON.stringify(call)).toBe(401);
      expect(res.headers.location, JSON.stringify(call)).toBe(SIGN_IN);
    }
  });

  it('ignores X-Forwarded-* from a peer that is not a trusted proxy', async () => {
    // Anonymous: no return URL at all, whatever the headers say.
    const anonymous = await authz(t, { from: '192.0.2.10', host: 'app.example.com', uri: '/x', proto: 'https' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers.location).toBe(SIGN_IN);
    // Signed in: the host is the request's own Host (which has no rule), not X-Forwarded-Host.
    const insecureCookie = `${INSECURE_SESSION_COOKIE}=${ops.cookieValue}`;
    const signedIn = await authz(t, { from: '192.0.2.10', host: 'app.example.com', uri: '/', proto: 'https', cookie: insecureCookie });
    expect(signedIn.statusCode).toBe(403);
    const last = (await denials(t)).at(-1)!;
    expect(last).toMatchObject({ actorId: ops.user.id, targetId: 'gw.internal', details: { entryPoint: 'forward_auth', code: 'no_host_rule' } });
  });

  it('refuses a host whose rule is not met, and a host without a rule, and audits each denial with its reason', async () => {
    const before = (await denials(t)).length;
    const noRole = await authz(t, { host: 'grafana.tools.example.com', uri: '/', proto: 'https', cookie: ops.cookie });
    expect(noRole.statusCode).toBe(403);
    expect(noRole.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    expect(noRole.headers['x-webasset-user']).toBeUndefined();
    const notMember = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: admin.cookie });
    expect(notMember.statusCode).toBe(403);
    const unknown = await authz(t, { host: 'intranet.example.org', uri: '/', proto: 'https', cookie: admin.cookie });
    expect(unknown.statusCode).toBe(403);
    // Both conditions of a rule with groups and roles are needed.
    expect((await authz(t, { host: 'both.example.com', uri: '/', proto: 'https', cookie: ops.cookie })).statusCode).toBe(403);
    const added = (await denials(t)).slice(before);
    expect(added).toEqual([
      { actorId: ops.user.id, targetId: 'grafana.tools.example.com', details: expect.objectContaining({ code: 'missing_role', rule: '*.tools.example.com', reason: expect.any(String) }) },
      { actorId: admin.user.id, targetId: 'app.example.com', details: expect.objectContaining({ code: 'not_in_group', rule: 'app.example.com' }) },
      { actorId: admin.user.id, targetId: 'intranet.example.org', details: expect.objectContaining({ code: 'no_host_rule', rule: null }) },
      { actorId: ops.user.id, targetId: 'both.example.com', details: expect.objectContaining({ code: 'missing_role' }) },
    ]);
  });

  it('lets any signed-in user through where the rule says so, and admins where the role rule says so', async () => {
    expect((await authz(t, { host: 'wiki.example.com', uri: '/', proto: 'https', cookie: ops.cookie })).statusCode).toBe(200);
    expect((await authz(t, { host: 'wiki.example.com', uri: '/', proto: 'https', cookie: admin.cookie })).statusCode).toBe(200);
    expect((await authz(t, { host: 'GRAFANA.tools.example.com.', uri: '/', proto: 'https', cookie: admin.cookie })).statusCode).toBe(200);
    expect((await authz(t, { host: 'wiki.example.com', uri: '/', proto: 'https' })).statusCode).toBe(401);
  });

  it('refuses a revoked session at once', async () => {
    const carol = await signIn(t, { username: 'carol', groups: ['ops'] });
    expect((await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: carol.cookie })).statusCode).toBe(200);
    expect(await t.services.sessions.revoke(carol.sessionId, null, 'test')).toBe(true);
    const after = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: carol.cookie });
    expect(after.statusCode).toBe(401);
    expect(after.headers['x-webasset-user']).toBeUndefined();
  });

  it('follows a membership change at once, without rotating the session behind the proxy', async () => {
    const dan = await signIn(t, { username: 'dan', groups: ['sales'] });
    expect((await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: dan.cookie })).statusCode).toBe(403);
    await t.services.sessions.refreshUser({ ...dan.user, groups: [{ id: randomUUID(), name: 'ops' }] });
    // The proxy drops this answer's Set-Cookie: a rotation here would sign dan out. The old cookie keeps working.
    for (let i = 0; i < 2; i++) {
      const res = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: dan.cookie });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-webasset-groups']).toBe('ops');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('refuses a tampered or unknown cookie like no cookie', async () => {
    const tampered = `${SESSION_COOKIE}=${ops.cookieValue.slice(0, -2)}xx`;
    expect((await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: tampered })).statusCode).toBe(401);
  });

  it('accepts an API token as a bearer caller, judged by its role', async () => {
    const token = await t.token('admin');
    const res = await authz(t, { host: 'grafana.tools.example.com', uri: '/', proto: 'https', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-webasset-groups']).toBe('');
  });

  it('redirects only reads with ?redirect=true (Traefik, Caddy), and answers 401 otherwise', async () => {
    const get = await authz(t, { host: 'app.example.com', uri: '/a', proto: 'https', method: 'GET', query: '?redirect=true' });
    expect(get.statusCode).toBe(302);
    expect(new URL(get.headers.location as string).searchParams.get('returnTo')).toBe('https://app.example.com/a');
    const post = await authz(t, { host: 'app.example.com', uri: '/a', proto: 'https', method: 'POST', query: '?redirect=true' });
    expect(post.statusCode).toBe(401);
    const unknownParam = await authz(t, { host: 'app.example.com', uri: '/a', proto: 'https', query: '?rd=https://evil.example.net/' });
    expect(unknownParam.statusCode).toBe(400);
  });

  it('writes no audit event for a successful check', async () => {
    const head = await t.services.audit.reader.headSeq();
    for (let i = 0; i < 5; i++) expect((await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', cookie: ops.cookie })).statusCode).toBe(200);
    expect(await t.services.audit.reader.headSeq()).toBe(head);
  });
});

describe('GET /authz without rules', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: PROXY });
  });
  afterAll(async () => t?.stop());

  it('denies every host (deny by default) and answers anonymous callers 401 without a redirect', async () => {
    const anonymous = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers.location).toBeUndefined();
    const token = await t.token('admin');
    const res = await authz(t, { host: 'app.example.com', uri: '/', proto: 'https', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(403);
  });
});

describe('forward-auth rules', () => {
  const who = (roles: Principal['roles'], groups: string[], onBehalfOf?: Principal['onBehalfOf']): Principal => ({
    kind: 'user',
    id: randomUUID(),
    name: 'x',
    roles,
    groups: groups.map((name) => ({ id: randomUUID(), name })),
    via: 'session',
    mfa: false,
    onBehalfOf,
  });

  const NOW = new Date('2026-12-04T12:00:00Z');

  it('match an exact host before a wildcard, and a wildcard only one label deep', () => {
    const rules = createForwardAuthRules([
      { host: '*.example.com', groups: ['staff'], roles: [] },
      { host: 'pay.example.com', groups: ['finance'], roles: [] },
    ]);
    expect(rules.decide(who([], ['finance']), 'pay.example.com', NOW)).toMatchObject({ allowed: true, rule: 'pay.example.com' });
    expect(rules.decide(who([], ['staff']), 'pay.example.com', NOW)).toMatchObject({ allowed: false, reason: 'not_in_group' });
    expect(rules.decide(who([], ['staff']), 'wiki.example.com:8443', NOW)).toMatchObject({ allowed: true, rule: '*.example.com' });
    expect(rules.decide(who([], ['staff']), 'a.wiki.example.com', NOW)).toMatchObject({ allowed: false, reason: 'no_host_rule' });
    expect(rules.decide(who([], ['staff']), 'example.com', NOW)).toMatchObject({ allowed: false, reason: 'no_host_rule' });
    expect(rules.decide(who([], ['staff']), undefined, NOW)).toMatchObject({ allowed: false, reason: 'no_host_rule' });
    expect(rules.decide(who([], ['staff']), 'wiki.example.com/x', NOW)).toMatchObject({ allowed: false, reason: 'no_host_rule' });
  });

  it('let an agent acting for an operator pass only when both would', () => {
    const rules = createForwardAuthRules([{ host: 'app.example.com', groups: ['ops'], roles: [] }]);
    const operator = { id: randomUUID(), name: 'op', roles: ['operator' as const], groups: [{ id: randomUUID(), name: 'sales' }] };
    expect(rules.decide(who(['agent'], ['ops'], operator), 'app.example.com', NOW)).toMatchObject({ allowed: false, reason: 'on_behalf_of_denied' });
    const member = { ...operator, groups: [{ id: randomUUID(), name: 'ops' }] };
    expect(rules.decide(who(['agent'], ['ops'], member), 'app.example.com', NOW)).toMatchObject({ allowed: true });
  });

  it('decide by the principal and the host alone, whatever the time (the fast path keeps the answer per session snapshot)', () => {
    const rules = createForwardAuthRules([
      { host: 'app.example.com', groups: ['ops'], roles: [] },
      { host: '*.tools.example.com', groups: [], roles: ['admin'] },
    ]);
    const times = ['2026-12-04T12:00:00Z', '2026-12-05T03:30:00Z', '2027-06-13T23:59:59Z'].map((t) => new Date(t));
    for (const [principal, host] of [
      [who(['operator'], ['ops']), 'app.example.com'],
      [who(['operator'], ['sales']), 'app.example.com'],
      [who(['admin'], []), 'x.tools.example.com'],
      [who(['operator'], ['ops']), 'x.tools.example.com'],
    ] as const) {
      const answers = times.map((now) => rules.decide(principal, host, now));
      expect(answers.every((answer) => JSON.stringify(answer) === JSON.stringify(answers[0]))).toBe(true);
    }
  });

  it('are checked at config load: shape, host names, roles, duplicates', () => {
    const load = (forwardAuth: unknown) => () => {
      try {
        return loadConfig({ env: { WEBASSET_FORWARD_AUTH: typeof forwardAuth === 'string' ? forwardAuth : JSON.stringify(forwardAuth) }, cwd: '/tmp' });
      } catch (error) {
        // The message operators see names the variable and the problem.
        throw new Error((error as AppError).publicMessage);
      }
    };
    expect(load({ rules: [{ host: 'app.example.com' }] })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [{ host: '*.com', roles: ['admin'] }] })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [{ host: 'a/b', roles: ['admin'] }] })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [{ host: 'a.example.com', roles: ['root'] }] })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [{ host: 'a.example.com', roles: ['admin'], anySignedInUser: true }] })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [{ host: 'a.example.com', roles: ['admin'] }, { host: 'A.example.com', groups: ['x'] }] })).toThrow(/same host/);
    expect(load({ rules: [], extra: 1 })).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load('{not json')).toThrow(/WEBASSET_FORWARD_AUTH/);
    expect(load({ rules: [], signInUrl: 'javascript:alert(1)' })).toThrow(/WEBASSET_FORWARD_AUTH/);
    const { config } = load({ rules: [{ host: '*.example.com', groups: ['ops'] }], signInUrl: SIGN_IN })();
    expect(config.forwardAuth).toEqual({ rules: [{ host: '*.example.com', groups: ['ops'], roles: [] }], signInUrl: SIGN_IN });
  });

  it('know the same roles as identity', async () => {
    const { config } = loadConfig({ env: { WEBASSET_FORWARD_AUTH: JSON.stringify({ rules: [{ host: 'a.example.com', roles: [...ROLES] }] }) }, cwd: '/tmp' });
    expect(config.forwardAuth.rules[0]!.roles).toEqual([...ROLES]);
  });
});

describe('return URL policy', () => {
  const policy = createReturnUrlPolicy({ hosts: ['app.example.com', '*.tools.example.com'], publicUrl: 'https://gw.example.com' });

  it('keeps allowed http(s) URLs, normalized', () => {
    expect(policy.check('https://app.example.com/a?b=c')).toBe('https://app.example.com/a?b=c');
    expect(policy.check('https://APP.example.com:8443/')).toBe('https://app.example.com:8443/');
    expect(policy.check('https://gw.example.com/')).toBe('https://gw.example.com/');
    expect(policy.check('https://x.tools.example.com/')).toBe('https://x.tools.example.com/');
  });

  it('drops everything else', () => {
    for (const url of [
      'https://evil.example.net/',
      'https://user:pass@app.example.com/',
      'https://app.example.com\\@evil.example.net/',
      'javascript://app.example.com/%0aalert(1)',
      'data:text/html,hi',
      '//evil.example.net',
      '/relative',
      'https://app.example.com/\r\nSet-Cookie: x=1',
      'https://a.b.tools.example.com/',
      'https://app.example.com.evil.example.net/',
      '',
    ]) {
      expect(policy.check(url), url).toBeUndefined();
    }
  });
});

describe('small parts', () => {
  it('encode header values so nothing can split a header or a list', () => {
    expect(headerValue('olga')).toBe('olga');
    expect(headerValue('Zoë, Ops\r\nX-Evil: 1')).toBe('Zo%C3%AB%2C%20Ops%0D%0AX-Evil%3A%201');
    expect(decodeURIComponent(headerValue('a,b%c'))).toBe('a,b%c');
  });

  it('trust only the configured proxies, IPv4-mapped peers included', () => {
    const trust = createProxyTrust(['10.0.0.0/8', 'loopback']);
    expect(trust('10.1.2.3')).toBe(true);
    expect(trust('::ffff:10.1.2.3')).toBe(true);
    expect(trust('127.0.0.1')).toBe(true);
    expect(trust('::1')).toBe(true);
    expect(trust('192.0.2.1')).toBe(false);
    expect(trust(undefined)).toBe(false);
    expect(createProxyTrust([])('127.0.0.1')).toBe(false);
  });

  it('shed past the in-flight cap and admit again once a slot is free', () => {
    const shedder = createLoadShedder({ maxInFlight: 2, maxEventLoopDelayMs: 10_000 });
    try {
      expect(shedder.enter()).toBe(true);
      expect(shedder.enter()).toBe(true);
      expect(shedder.enter()).toBe(false);
      shedder.leave();
      expect(shedder.enter()).toBe(true);
      expect(shedder.shed).toBe(1);
    } finally {
      shedder.close();
    }
  });
});
