import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

async function get(t: TestServer, path: string, token?: string) {
  const res = await fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

async function countEvents(t: TestServer): Promise<number> {
  return (await t.services.audit.reader.headSeq());
}

describe('GET /api/audit', () => {
  let t: TestServer;
  let auditor: string;
  let operator: string;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_AUDIT_PAGE_MAX: '50' });
    auditor = await t.token('auditor');
    operator = await t.token('operator');
    for (let i = 0; i < 30; i++) {
      await t.services.audit.trail.record({
        actor: { kind: 'agent', id: `agent-${i % 3}` },
        action: i % 2 ? 'auth.token.failed' : 'token.created',
        outcome: i % 2 ? 'failure' : 'success',
        target: { kind: 'asset', id: `asset-${i % 5}` },
      });
    }
  });
  afterAll(async () => t.stop());

  it('needs a bearer token and says so', async () => {
    const before = await countEvents(t);
    const res = await get(t, '/api/audit');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.body.error.code).toBe('unauthenticated');
    expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
    expect(await countEvents(t)).toBe(before);
  });

  it('audits a wrong token before refusing it', async () => {
    const res = await get(t, '/api/audit', 'wat_' + 'x'.repeat(43));
    expect(res.status).toBe(401);
    const page = await t.services.audit.reader.search({ actionPrefix: 'auth.token.failed', actorId: 'anonymous' }, { limit: 1, order: 'desc' });
    expect(page.events[0]?.sourceIp).toBe('127.0.0.1');
  });

  it('refuses a role without audit.read, and records the denial', async () => {
    const res = await get(t, '/api/audit', operator);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    const page = await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 1, order: 'desc' });
    expect(page.events).toHaveLength(1);
  });

  it('pages with a cursor through filtered results, newest first, and audits each read', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    const readsBefore = (await t.services.audit.reader.search({ actionPrefix: 'audit.read' }, { limit: 100, order: 'asc' })).events.length;
    let pages = 0;
    do {
      const q: string = `/api/audit?action=token.created&outcome=success&limit=4${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await get(t, q, auditor);
      expect(res.status).toBe(200);
      for (const e of res.body.events) {
        expect(e.action).toBe('token.created');
        seen.push(e.seq);
        expect(Object.keys(e).sort()).toEqual(
          ['action', 'actor', 'details', 'hash', 'id', 'nodeId', 'outcome', 'prevHash', 'requestId', 'seq', 'sourceIp', 'target', 'time', 'userAgent'].sort(),
        );
      }
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor);
    // 15 recorded above plus the two tokens created in beforeAll.
    expect(seen).toHaveLength(17);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
    const readsAfter = (await t.services.audit.reader.search({ actionPrefix: 'audit.read' }, { limit: 100, order: 'asc' })).events.length;
    expect(readsAfter - readsBefore).toBe(pages);
  });

  it('filters by actor, target and time range', async () => {
    const res = await get(t, '/api/audit?actor=agent-1&targetKind=asset&targetId=asset-1&order=asc', auditor);
    expect(res.status).toBe(200);
    expect(res.body.events.length).toBeGreaterThan(0);
    for (const e of res.body.events) expect([e.actor.id, e.target.id]).toEqual(['agent-1', 'asset-1']);
    const future = await get(t, '/api/audit?from=2999-01-01T00:00:00Z', auditor);
    expect(future.body.events).toEqual([]);
  });

  it.each([
    ['/api/audit?limit=51', 400, 'page_size_too_large'],
    ['/api/audit?limit=0', 400, 'invalid_request'],
    ['/api/audit?limit=abc', 400, 'invalid_request'],
    ['/api/audit?from=yesterday', 400, 'invalid_request'],
    ['/api/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 400, 'invalid_request'],
    ['/api/audit?outcome=maybe', 400, 'invalid_request'],
    ['/api/audit?action=DROP%20TABLE', 400, 'invalid_request'],
    ['/api/audit?order=sideways', 400, 'invalid_request'],
    ['/api/audit?unknown=1', 400, 'invalid_request'],
    ['/api/audit?cursor=not-a-cursor', 400, 'invalid_cursor'],
  ])('%s → %i %s, and nothing is written', async (path, status, code) => {
    const before = await countEvents(t);
    const res = await get(t, path, auditor);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(await countEvents(t)).toBe(before);
  });

  it('refuses a cursor from another query', async () => {
    const first = await get(t, '/api/audit?limit=2&action=token', auditor);
    const other = await get(t, `/api/audit?limit=2&action=auth&cursor=${first.body.nextCursor}`, auditor);
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('invalid_cursor');
  });
});

describe('fail closed', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.stop());

  it('returns no audit data when the read itself cannot be recorded', async () => {
    const token = await t.token('auditor');
    await t.services.audit.trail.close();
    const res = await get(t, '/api/audit', token);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('audit_unavailable');
    expect(res.body.events).toBeUndefined();
    const ready = await get(t, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.reason).toBe('audit trail closed');
  });
});

describe('health', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.stop());

  it('answers /healthz and /readyz, and unknown routes with the error body', async () => {
    expect((await get(t, '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await get(t, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', checks: { database: 'ok', auditTrail: 'ok', auditSpoolBytes: 0 } });
    const missing = await get(t, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('reports not ready, with the reason, when the database is gone', async () => {
    await t.services.database.close();
    const ready = await get(t, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not_ready', reason: 'database unreachable', checks: { database: 'unreachable' } });
  });
});
