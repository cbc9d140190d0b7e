import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, type Caller } from './admin-callers.js';

// GET /api/admin/alerts: a burst of failed sign-ins (as test/detect does) against a known account is listed, newest first, without the password typed.

const PASSWORD = 'canary-alerts-wrong-password-5521';

describe('GET /api/admin/alerts', () => {
  let ts: TestServer;
  let admin: Caller;
  let auditor: Caller;
  let operator: Caller;

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_SIGNIN_IP_LIMIT: '100000', WEBASSET_AUTH_FAILURE_LIMIT: '10000' });
    admin = await sessionCaller(ts, 'ada', ['admin']);
    auditor = await sessionCaller(ts, 'aude', ['auditor']);
    operator = await sessionCaller(ts, 'otto', ['operator']);
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('lists the brute-force alerts of a burst (account and IP), newest first, for administrators and auditors; the read is audited; no password', async () => {
    expect((await call(ts, admin, 'GET', '/api/admin/alerts')).json).toEqual({ alerts: [], nextCursor: null });
    for (let i = 0; i < 7; i += 1) {
      const res = await fetch(`${ts.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'otto', password: PASSWORD }) });
      expect(res.status).toBe(401);
    }
    await ts.services.audit.trail.flush();
    const listed = await call(ts, admin, 'GET', '/api/admin/alerts');
    expect(listed.status).toBe(200);
    const { alerts } = listed.json as { alerts: Array<{ time: string; kind: string; severity: string; subject: { kind: string; id: string }; count: number }> };
    expect(alerts.map((a) => a.subject.kind).sort()).toEqual(['account', 'ip']);
    expect(alerts.find((a) => a.subject.kind === 'account')).toMatchObject({ kind: 'brute_force', severity: 'high', subject: { id: 'otto' }, count: 6 });
    expect(alerts[0]!.time >= alerts[1]!.time).toBe(true);
    expect(listed.text).not.toContain(PASSWORD);

    expect((await call(ts, auditor, 'GET', '/api/admin/alerts')).status).toBe(200);
    expect((await call(ts, operator, 'GET', '/api/admin/alerts')).status).toBe(403);
    const bad = await call(ts, admin, 'GET', '/api/admin/alerts?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    expect((await call(ts, admin, 'GET', '/api/admin/alerts?limit=5')).status).toBe(400);

    // Each read of the trail is itself recorded.
    const reads = await call(ts, admin, 'GET', `/api/audit?action=audit.read&actor=${admin.userId}`);
    expect((reads.json as { events: unknown[] }).events.length).toBeGreaterThanOrEqual(2);
  });
});
