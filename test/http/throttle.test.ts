import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const BAD = `wat_${'b'.repeat(43)}`;

async function call(t: TestServer, token: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/api/audit?limit=1`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { code: string } } };
}

async function lastFailure(t: TestServer) {
  const page = await t.services.audit.reader.search({ actionPrefix: 'auth.token.failed' }, { limit: 1, order: 'desc' });
  return page.events[0];
}

describe('failed token sign-ins are throttled per client IP', () => {
  let t: TestServer;
  let good: string;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_AUTH_FAILURE_LIMIT: '3' });
    good = await t.token('auditor');
  });
  afterAll(async () => t.stop());

  it('answers 401 up to the limit, then 429 with Retry-After, and audits the block once; a valid token from that address still passes', async () => {
    for (let i = 0; i < 3; i++) expect((await call(t, BAD)).status).toBe(401);
    const blocked = await call(t, BAD);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error?.code).toBe('rate_limited');
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse((await lastFailure(t))!.details)).toMatchObject({ blocked: true });
    const before = await t.services.audit.reader.headSeq();
    // Further unknown tokens are refused without a record each (the block was recorded when it began).
    expect((await call(t, `${BAD}x`)).status).toBe(429);
    expect(await t.services.audit.reader.headSeq()).toBe(before);
    // Another client behind the same address (NAT) with its own valid token is not locked out by the guesser.
    const valid = await call(t, good);
    expect(valid.status, JSON.stringify(valid.body)).toBe(200);
    expect((await call(t, BAD)).status).toBe(429);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const res = await call(t, BAD, { 'x-forwarded-for': '203.0.113.9' });
    expect(res.status).toBe(429);
  });
});

describe('behind a trusted proxy', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_AUTH_FAILURE_LIMIT: '2', WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32' });
  });
  afterAll(async () => t.stop());

  it('takes the client from X-Forwarded-For and throttles each client on its own', async () => {
    expect((await call(t, BAD, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(401);
    expect((await lastFailure(t))?.sourceIp).toBe('203.0.113.7');
    expect((await call(t, BAD, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(401);
    expect((await call(t, BAD, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
    expect((await call(t, BAD, { 'x-forwarded-for': '198.51.100.4' })).status).toBe(401);
  });
});
