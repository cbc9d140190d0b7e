import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiRateLimit } from '../../src/http/api-rate-limit.js';
import { createAuthenticator } from '../../src/http/authenticate.js';
import { createCsrfGuard } from '../../src/http/csrf.js';
import { registerRouteAccess } from '../../src/http/index.js';
import { createSessionCookies } from '../../src/http/session-cookie.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';

async function get(t: TestServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}${path}`, { headers });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { code: string } } };
}

describe('route access convention', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_API_RATE_LIMIT: '5', WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32' });
  });
  afterAll(async () => t.stop());

  const guardedApp = () => {
    const app = Fastify();
    const cookies = createSessionCookies({});
    registerRouteAccess(app, {
      authenticator: createAuthenticator({ tokens: t.services.tokens, sessions: t.services.sessions, trail: t.services.audit.trail, throttle: t.services.throttle, cookies }),
      csrf: createCsrfGuard({ trustedOrigins: [] }),
      access: t.services.access,
      trail: t.services.audit.trail,
      rateLimit: createApiRateLimit({ state: t.services.state, perMinute: 1000 }),
    });
    return app;
  };

  it('stops a server from starting when a route declares no access rule', async () => {
    const app = guardedApp();
    app.get('/public', { config: { access: { kind: 'public' } } }, async () => 'ok');
    app.register(async (child) => {
      child.post('/api/forgotten', async () => 'oops');
    });
    await expect(app.ready()).rejects.toThrow(/POST \/api\/forgotten declares no valid config.access/);
    await app.close();
  });

  it('refuses a malformed rule too', async () => {
    const app = guardedApp();
    // Added at the top level, the route is refused at once.
    expect(() => app.get('/bad', { config: { access: { kind: 'everyone' } as never } }, async () => 'ok')).toThrow(/GET \/bad declares no valid config.access/);
    expect(() => app.get('/no-permission', { config: { access: { kind: 'permission' } as never } }, async () => 'ok')).toThrow(/declares no valid/);
    await app.close();
  });

  it('takes bearer tokens from the header only, never from the query string', async () => {
    const token = await t.token('auditor');
    expect((await get(t, `/api/audit?limit=1&access_token=${token}`, { 'x-forwarded-for': '203.0.113.50' })).status).toBe(401);
    expect((await get(t, '/api/audit?limit=1', { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.50' })).status).toBe(200);
  });

  it('checks token scopes: api:read reads, api:write changes; refusals are recorded', async () => {
    const { token } = await t.services.tokens.create({ name: 'read only', role: 'auditor', scopes: ['api:read'], createdBy: TEST_ADMIN });
    const ip = { 'x-forwarded-for': '203.0.113.51' };
    expect((await get(t, '/api/audit?limit=1', { authorization: `Bearer ${token}`, ...ip })).status).toBe(200);
    const escaped = await fetch(`${t.url}/%61pi/auth/logout-all`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...ip } });
    expect(escaped.status).toBe(403);
    const res = await fetch(`${t.url}/api/auth/logout-all`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...ip } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
    await t.services.audit.trail.flush();
    const page = await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 1, order: 'desc' });
    expect(JSON.parse(page.events[0]!.details)).toMatchObject({ scope: 'api:write', method: 'POST', route: '/api/auth/logout-all' });
  });

  it('limits API requests per client IP with 429 and Retry-After, and leaves health probes alone', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.20' };
    for (let i = 0; i < 5; i += 1) expect((await get(t, '/api/auth/session', ip)).status).toBe(401);
    const limited = await get(t, '/api/auth/session', ip);
    expect(limited.status).toBe(429);
    expect(limited.body.error?.code).toBe('rate_limited');
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect((await get(t, '/healthz', ip)).status).toBe(200);
    // A percent-escaped path that the router decodes to an API route is counted as one.
    expect((await get(t, '/%61pi/auth/session', ip)).status).toBe(429);
    // Another client is counted apart.
    expect((await get(t, '/api/auth/session', { 'x-forwarded-for': '198.51.100.21' })).status).toBe(401);
  });

  it('limits API requests per token across client IPs', async () => {
    const token = await t.token('auditor');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await get(t, '/api/auth/session', { authorization: `Bearer ${token}`, 'x-forwarded-for': `192.0.2.${i + 1}` })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
