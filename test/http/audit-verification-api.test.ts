import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, tokenCaller, type Caller } from './admin-callers.js';

interface Status {
  started?: boolean;
  running: { startedAt: string; by: { id: string } } | null;
  last: {
    ok: boolean;
    checkedAt: string;
    by: { kind: string; id: string; name: string | null };
    eventSeq: number;
    fromSeq: number;
    throughSeq: number | null;
    events: number;
    checkpoints: number;
    lastCheckpoint: { seq: number; time: string } | null;
    failure: { seq: number; reason: string } | null;
  } | null;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

/** GET/POST /api/audit/verification: the chain verification status and "verify now" of the auditor's desk. */
describe('/api/audit/verification', () => {
  let ts: TestServer;
  let auditor: Caller;
  let operator: Caller;

  beforeAll(async () => {
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'verify-auditor', ['auditor']);
    operator = await sessionCaller(ts, 'verify-operator', ['operator']);
    for (let i = 0; i < 20; i++) await ts.services.audit.trail.record({ actor: { kind: 'system', id: 'filler' }, action: 'alert.raised', outcome: 'success', details: { i } });
    await ts.services.audit.trail.checkpoint();
  });
  afterAll(async () => ts?.stop());

  const status = async (caller: Caller = auditor) => {
    const res = await call(ts, caller, 'GET', '/api/audit/verification');
    return { status: res.status, body: res.json as Status };
  };

  /** Starts one (or joins) and waits until this node runs none. */
  async function verifyNow(): Promise<Status> {
    const res = await call(ts, auditor, 'POST', '/api/audit/verification');
    expect(res.status).toBe(202);
    let body = res.json as Status;
    while (body.running) body = await pause().then(async () => (await status()).body);
    return body;
  }

  it('reports no verification before the first, then runs one and reports the trail intact, audited', async () => {
    const before = await status();
    expect(before).toEqual({ status: 200, body: { running: null, last: null } });

    const after = await verifyNow();
    const last = after.last!;
    expect(last).toMatchObject({ ok: true, by: { kind: 'user', id: auditor.userId }, fromSeq: 1, failure: null });
    expect(last.events).toBe(last.throughSeq);
    expect(last.events).toBeGreaterThan(20);
    expect(last.checkpoints).toBeGreaterThan(0);
    expect(last.lastCheckpoint!.seq).toBeLessThanOrEqual(last.throughSeq!);
    expect(Date.parse(last.checkedAt)).not.toBeNaN();

    // The result is the trail's own audit.verified event (with the request that asked), and each status read is audit.read.
    await ts.services.audit.trail.flush();
    const [verified] = (await ts.services.audit.reader.search({ actionPrefix: 'audit.verified' }, { limit: 1, order: 'desc' })).events;
    expect(verified).toMatchObject({ seq: last.eventSeq, actorId: auditor.userId, outcome: 'success', sourceIp: '127.0.0.1' });
    expect(verified!.requestId).toMatch(/./);
    const reads = (await ts.services.audit.reader.search({ actionPrefix: 'audit.read', actorId: auditor.userId! }, { limit: 100, order: 'asc' })).events;
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(reads[0]!.details)).toMatchObject({ what: 'verification' });
  });

  it('runs one verification at a time: callers who ask while one runs join it', async () => {
    await ts.services.audit.trail.flush();
    const count = async () => (await ts.services.audit.reader.search({ actionPrefix: 'audit.verified' }, { limit: 100, order: 'asc' })).events.length;
    const before = await count();
    const answers = await Promise.all(Array.from({ length: 4 }, () => call(ts, auditor, 'POST', '/api/audit/verification')));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    const started = answers.filter((a) => (a.json as Status).started).length;
    expect(started).toBeGreaterThanOrEqual(1);
    let body = (await status()).body;
    while (body.running) body = await pause().then(async () => (await status()).body);
    await ts.services.audit.trail.flush();
    // Exactly as many runs as answers that said they started one: a joined caller started nothing.
    expect((await count()) - before).toBe(started);
  });

  it('reports a broken chain with the first broken sequence number and why', async () => {
    const db = ts.services.database.db;
    await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(db);
    try {
      await sql`UPDATE audit_events SET details = '{"forged":true}' WHERE seq = 5`.execute(db);
    } finally {
      await sql`ALTER TABLE audit_events ENABLE TRIGGER USER`.execute(db);
    }
    const last = (await verifyNow()).last!;
    expect(last.ok).toBe(false);
    expect(last.failure).toEqual({ seq: 5, reason: expect.stringContaining('event altered') });
    await ts.services.audit.trail.flush();
    const [verified] = (await ts.services.audit.reader.search({ actionPrefix: 'audit.verified' }, { limit: 1, order: 'desc' })).events;
    expect(verified!.outcome).toBe('failure');
  });

  it('needs audit.read (401, 403) and a CSRF token to start one from a web session', async () => {
    expect((await fetch(`${ts.url}/api/audit/verification`)).status).toBe(401);
    expect((await status(operator)).status).toBe(403);
    expect((await call(ts, operator, 'POST', '/api/audit/verification')).status).toBe(403);
    const agent = await tokenCaller(ts, 'verify-agent', 'agent');
    expect((await call(ts, agent, 'POST', '/api/audit/verification')).status).toBe(403);
    const noCsrf = { ...auditor, headers: (m: string) => ({ cookie: auditor.headers('GET').cookie!, ...(m === 'GET' ? {} : { origin: ts.url }) }) };
    const refused = await call(ts, noCsrf, 'POST', '/api/audit/verification');
    expect(refused.status).toBe(403);
    expect((refused.json as { error: { code: string } }).error.code).toBe('csrf_failed');
    expect((await call(ts, auditor, 'GET', '/api/audit/verification?x=1')).status).toBe(400);
  });
});
