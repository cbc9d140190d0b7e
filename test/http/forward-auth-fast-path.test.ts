import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { signedInUser } from '../support/forward-auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The fast path for GET /authz (src/http/forward-auth-fast-path.ts) answers passes without Fastify. It must
// answer exactly as the route does: every call below goes once over real HTTP (fast path in front) and once
// through inject() (Fastify's route only, which the fast path never sees), and status, headers and body must
// be equal. The counters show which calls the fast path answered itself.

const SIGN_IN = 'https://gw.example.com/login';
const RULES = {
  signInUrl: SIGN_IN,
  rules: [
    { host: 'app.example.com', groups: ['ops'] },
    { host: '*.tools.example.com', roles: ['admin'] },
  ],
};
/** Headers that differ between two answers by nature (time, connection handling). */
const VARYING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function normalize(status: number, headers: Record<string, unknown>, body: string): Answer {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!VARYING.has(name)) kept[name] = String(value);
  return { status, headers: kept, body };
}

function overHttp(t: TestServer, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, t.url), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(normalize(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())));
    });
    req.on('error', reject);
    req.end();
  });
}

async function viaFastify(t: TestServer, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>): Promise<Answer> {
  const res = await t.server.http.inject({ method, url: path, headers, remoteAddress: '127.0.0.1' });
  return normalize(res.statusCode, res.headers, res.body);
}

describe('GET /authz fast path', () => {
  let t: TestServer;
  let ops: string;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: 'loopback', WEBASSET_FORWARD_AUTH: JSON.stringify(RULES) });
    ops = (await signedInUser(t, { username: 'olga', email: 'olga@example.com', roles: ['operator'], groups: ['ops', 'Site Reliability'] })).cookieValue;
    token = await t.token('agent');
  });
  afterAll(async () => t?.stop());

  const forwarded = (host: string, extra: Record<string, string> = {}) => ({
    'x-request-id': 'fast-path-test',
    'x-forwarded-host': host,
    'x-forwarded-proto': 'https',
    'x-forwarded-uri': '/dashboard?tab=1',
    'x-forwarded-method': 'GET',
    ...extra,
  });

  const CASES: Array<{ name: string; method?: 'GET' | 'HEAD'; path?: string; headers: () => Record<string, string>; fast: boolean }> = [
    { name: 'a signed-in member passes', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: true },
    { name: 'a pass with ?redirect=true', path: '/authz?redirect=true', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: true },
    { name: 'the nearest proxy names the host (last entry)', headers: () => forwarded('evil.example.com, app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: true },
    { name: 'another Authorization scheme is the upstream\'s', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}`, authorization: 'Basic dXNlcjpwYXNz' }), fast: true },
    { name: 'other cookies around ours', headers: () => forwarded('app.example.com', { cookie: `a=1; ${SESSION_COOKIE}=${ops}; b=2` }), fast: true },
    { name: 'a host whose rule the user does not meet (denied, audited)', headers: () => forwarded('x.tools.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: false },
    { name: 'a host without a rule', headers: () => forwarded('nowhere.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: false },
    { name: 'no cookie: sign in', headers: () => forwarded('app.example.com'), fast: false },
    { name: 'no cookie, redirect', path: '/authz?redirect=true', headers: () => forwarded('app.example.com'), fast: false },
    { name: 'an unknown cookie is cleared', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=wss_${'A'.repeat(43)}` }), fast: false },
    { name: 'the __Host- cookie on a plain-http request is not read', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}`, 'x-forwarded-proto': 'http' }), fast: false },
    { name: 'a repeated cookie name: the first counts', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=bad; ${SESSION_COOKIE}=${ops}` }), fast: false },
    { name: 'a percent-encoded cookie goes to the route', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops.slice(0, 4)}%5F${ops.slice(4)}` }), fast: false },
    { name: 'an unknown query parameter', path: '/authz?x=1', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: false },
    { name: 'HEAD', method: 'HEAD', headers: () => forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }), fast: false },
    { name: 'a bearer token is the route\'s', headers: () => forwarded('app.example.com', { authorization: `Bearer ${token}` }), fast: false },
  ];

  for (const c of CASES) {
    it(`${c.name}: the same answer as the route${c.fast ? ', from the fast path' : ', from the route'}`, async () => {
      const path = c.path ?? '/authz';
      const method = c.method ?? 'GET';
      const stats = t.services.forwardAuth.stats;
      const fastBefore = stats.allowedFast;
      const deniedBefore = (await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 1000, order: 'asc' })).events.length;
      const real = await overHttp(t, method, path, c.headers());
      expect(stats.allowedFast - fastBefore).toBe(c.fast ? 1 : 0);
      const routed = await viaFastify(t, method, path, c.headers());
      expect(real).toEqual(routed);
      // A denial the fast path handed over is recorded once per request, by the route.
      const denied = (await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 1000, order: 'asc' })).events.length - deniedBefore;
      expect(denied % 2).toBe(0);
    });
  }

  it('a pass over TLS-terminating proxies carries HSTS, like every answer of the route', async () => {
    const real = await overHttp(t, 'GET', '/authz', forwarded('app.example.com', { cookie: `${SESSION_COOKIE}=${ops}` }));
    expect(real.status).toBe(200);
    expect(real.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(real.headers['x-webasset-groups']).toBe('Site%20Reliability,ops');
    expect(real.headers['x-request-id']).toBe('fast-path-test');
  });
});
