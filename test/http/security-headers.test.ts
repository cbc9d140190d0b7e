import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, enrolLocalUser } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';

const EXPECTED_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

function expectStrictHeaders(headers: Headers, what: string): void {
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp.split(';').map((d) => d.trim()).filter(Boolean).sort(), what).toEqual([...EXPECTED_CSP].sort());
  expect(csp, what).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('x-frame-options'), what).toBe('DENY');
  expect(headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(headers.get('cross-origin-resource-policy'), what).toBe('same-origin');
}

describe('security headers and CORS, default (plain HTTP, CORS closed)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.stop());

  it('sends a strict CSP and the other headers on answers and on errors, and no HSTS over plain HTTP', async () => {
    for (const [path, headers] of [
      ['/healthz', {}],
      ['/nope', {}],
      ['/api/audit', {}],
      ['/api/audit', { authorization: 'Bearer wat_bad' }],
    ] as const) {
      const res = await fetch(`${t.url}${path}`, { headers });
      expectStrictHeaders(res.headers, `${path} ${res.status}`);
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('does not believe X-Forwarded-Proto from a peer that is not a trusted proxy', async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('sends no CORS header to any origin, and answers no preflight', async () => {
    const get = await fetch(`${t.url}/api/audit`, { headers: { origin: 'https://evil.example' } });
    expect([...get.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    const preflight = await fetch(`${t.url}/api/auth/logout`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token' },
    });
    expect([...preflight.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    expect(preflight.status).toBe(404);
  });
});

describe('behind a trusted TLS proxy, with an allowlisted CORS origin', () => {
  let t: TestServer;
  const console = 'https://console.example.test';
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32', WEBASSET_CORS_ORIGINS: console });
  });
  afterAll(async () => t.stop());

  it('sends HSTS and sets the __Host- cookie with Secure when the proxy says https', async () => {
    const health = await fetch(`${t.url}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(health.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const user = await enrolLocalUser(t, { username: 'tls-user', password: 'behind a proxy phrase 1', roles: ['operator'] });
    const browser = new Browser(t.url, { 'x-forwarded-proto': 'https' });
    const res = await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(200);
    const line = res.headers.getSetCookie().find((c) => c.startsWith('__Host-webasset='))!;
    expect(line).toMatch(/; Secure/i);
    expect(line).toMatch(/; HttpOnly/i);
    expect(line).toMatch(/; Path=\//i);
    expect(line).not.toMatch(/Domain=/i);
    expect((await browser.call('GET', '/api/auth/session')).status).toBe(200);
    // The same value under the unprefixed name is not read on a secure request.
    const value = browser.jar.get('__Host-webasset')!;
    const downgraded = await fetch(`${t.url}/api/auth/session`, { headers: { 'x-forwarded-proto': 'https', cookie: `webasset=${value}` } });
    expect(downgraded.status).toBe(401);
  });

  it('answers CORS for the allowlisted origin only, with credentials and the CSRF header allowed', async () => {
    const preflight = await fetch(`${t.url}/api/auth/logout`, {
      method: 'OPTIONS',
      headers: { origin: console, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf-token' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(console);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-csrf-token');
    const get = await fetch(`${t.url}/healthz`, { headers: { origin: console } });
    expect(get.headers.get('access-control-allow-origin')).toBe(console);
    expect(get.headers.get('vary')).toMatch(/origin/i);
    for (const origin of ['https://evil.example', `${console}.evil.example`, 'http://console.example.test', 'null']) {
      const res = await fetch(`${t.url}/healthz`, { headers: { origin } });
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });
});

describe('with an https public URL', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_PUBLIC_URL: 'https://gateway.example.test' });
  });
  afterAll(async () => t.stop());

  it('always uses the __Host- cookie with Secure', async () => {
    const user = await enrolLocalUser(t, { username: 'public-url-user', password: 'public url passphrase 2', roles: ['operator'] });
    const browser = new Browser(t.url);
    const res = await browser.call('POST', '/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().find((c) => c.startsWith('__Host-webasset='))).toMatch(/; Secure/i);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('webasset='))).toBe(false);
  });
});
