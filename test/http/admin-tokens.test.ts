import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/identity/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const admin: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
const DAY = 86_400_000;

describe('/api/admin/tokens and agent tokens over HTTP', () => {
  let srv: TestServer;
  let offset = 0;
  let adminToken: string;
  let botId: string;
  let operatorId: string;
  const canaries: string[] = [];

  beforeAll(async () => {
    srv = await startTestServer({}, { clock: { now: () => Date.now() + offset } });
    adminToken = await srv.token('admin');
    const bot = await srv.services.users.create({ username: 'agent-bot', kind: 'service', roles: ['agent'], source: 'local' }, admin);
    const olga = await srv.services.users.create({ username: 'olga', roles: ['operator'], source: 'local' }, admin);
    botId = bot.id;
    operatorId = olga.id;
  });
  afterAll(async () => {
    await srv?.stop();
  });

  const call = (method: string, path: string, token: string | undefined, body?: unknown) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const create = async (body: Record<string, unknown>) => {
    const res = await call('POST', '/api/admin/tokens', adminToken, body);
    const json = (await res.json()) as { token: string; info: { id: string } } & { error?: { code: string } };
    if (res.status === 201) canaries.push(json.token);
    return { status: res.status, json };
  };

  it('creates a service-account token, shown once, with metadata and never the value in lists', async () => {
    const { status, json } = await create({ name: 'claude desktop', serviceAccountId: botId, scopes: ['mcp', 'api:read'], expiresInDays: 30, onBehalfOfId: operatorId });
    expect(status).toBe(201);
    expect(json.token).toMatch(/^wat_[A-Za-z0-9_-]{43}$/);
    expect(json.info).toMatchObject({
      name: 'claude desktop',
      role: 'agent',
      scopes: ['mcp', 'api:read'],
      serviceAccount: { id: botId, username: 'agent-bot' },
      onBehalfOf: { id: operatorId, username: 'olga' },
      lastUsedAt: null,
      revoked: false,
    });
    const list = await call('GET', '/api/admin/tokens', adminToken);
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).toContain('claude desktop');
    expect(text).not.toContain(json.token);
    expect(text).not.toContain(createHash('sha256').update(json.token).digest('hex'));
    const one = await call('GET', `/api/admin/tokens/${json.info.id}`, adminToken);
    expect(await one.json()).toMatchObject({ id: json.info.id, scopes: ['mcp', 'api:read'] });
  });

  it('enforces scopes: an api:read token reads but cannot POST or DELETE; an mcp-only token cannot use /api', async () => {
    const readOnly = (await srv.services.tokens.create({ name: 'ro admin', role: 'admin', scopes: ['api:read'], createdBy: admin })).token;
    const mcpOnly = (await srv.services.tokens.create({ name: 'mcp admin', role: 'admin', scopes: ['mcp'], createdBy: admin })).token;
    canaries.push(readOnly, mcpOnly);
    expect((await call('GET', '/api/admin/tokens', readOnly)).status).toBe(200);
    const post = await call('POST', '/api/admin/tokens', readOnly, { name: 'x', serviceAccountId: botId, scopes: ['mcp'] });
    expect(post.status).toBe(403);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
    const before = (await srv.services.tokens.list()).length;
    const del = await call('DELETE', `/api/admin/tokens/${(await srv.services.tokens.list())[0]!.id}`, readOnly);
    expect(del.status).toBe(403);
    expect((await srv.services.tokens.list()).filter((t) => t.revoked)).toHaveLength(0);
    expect((await srv.services.tokens.list()).length).toBe(before);
    const mcp = await call('GET', '/api/admin/tokens', mcpOnly);
    expect(mcp.status).toBe(403);
    expect(((await mcp.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
  });

  it('lets an agent token act only as its service account: no admin rights from the token', async () => {
    const { json } = await create({ name: 'bot rw', serviceAccountId: botId, scopes: ['api:read', 'api:write'] });
    const res = await call('GET', '/api/admin/tokens', json.token);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });

  it('refuses a revoked token at once, and an expired one', async () => {
    const revoked = await create({ name: 'to revoke', serviceAccountId: botId, scopes: ['api:read'] });
    const expiring = await create({ name: 'short', serviceAccountId: botId, scopes: ['api:read'], expiresInDays: 1 });
    // An authenticated request that is refused for lack of permission still proves the token works.
    expect((await call('GET', '/api/audit', revoked.json.token)).status).toBe(403);
    const del = await call('DELETE', `/api/admin/tokens/${revoked.json.info.id}`, adminToken);
    expect(del.status).toBe(204);
    expect((await call('DELETE', `/api/admin/tokens/${revoked.json.info.id}`, adminToken)).status).toBe(204);
    expect((await call('GET', '/api/audit', revoked.json.token)).status).toBe(401);
    expect((await call('GET', '/api/audit', expiring.json.token)).status).toBe(403);
    offset += DAY + 1_000;
    try {
      expect((await call('GET', '/api/audit', expiring.json.token)).status).toBe(401);
    } finally {
      offset -= DAY + 1_000;
    }
    expect((await call('DELETE', '/api/admin/tokens/00000000-0000-0000-0000-000000000000', adminToken)).status).toBe(404);
  });

  it('updates last-used when a token is used', async () => {
    const { json } = await create({ name: 'used', serviceAccountId: botId, scopes: ['api:read'] });
    await call('GET', '/api/audit', json.token);
    const info = (await (await call('GET', `/api/admin/tokens/${json.info.id}`, adminToken)).json()) as { lastUsedAt: string | null };
    expect(info.lastUsedAt).not.toBeNull();
  });

  it('refuses bad input with a clear 4xx and creates nothing', async () => {
    const before = (await srv.services.tokens.list()).length;
    const bad: Array<Record<string, unknown>> = [
      { name: 'x', serviceAccountId: botId, scopes: ['root'] },
      { name: 'x', serviceAccountId: botId, scopes: [] },
      { name: 'x', serviceAccountId: botId, scopes: ['mcp'], expiresInDays: 366 },
      { name: 'x', serviceAccountId: botId, scopes: ['mcp'], expiresInDays: 0 },
      { name: 'x', serviceAccountId: botId, scopes: ['mcp'], role: 'admin' },
      { name: 'x', serviceAccountId: "1' OR 1=1 --", scopes: ['mcp'] },
      { name: 'x', serviceAccountId: operatorId, scopes: ['mcp'] },
      { name: 'x', serviceAccountId: botId, scopes: ['mcp'], onBehalfOfId: botId },
      { name: '<script>alert(1)</script>'.repeat(10), serviceAccountId: botId, scopes: ['mcp'] },
      { serviceAccountId: botId, scopes: ['mcp'] },
    ];
    for (const body of bad) {
      const res = await call('POST', '/api/admin/tokens', adminToken, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect((await srv.services.tokens.list()).length).toBe(before);
    expect((await call('GET', '/api/admin/tokens/not-a-uuid', adminToken)).status).toBe(400);
    expect((await call('GET', '/api/admin/tokens', undefined)).status).toBe(401);
  });

  it('never puts a token value in logs or audit records', async () => {
    expect(canaries.length).toBeGreaterThan(3);
    await srv.services.audit.trail.flush();
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(srv.services.database.db);
    const audit = rows.map((r) => r.row).join('\n');
    expect(audit).toContain('token.created');
    expect(audit).toContain('token.revoked');
    const logs = srv.logs.text();
    for (const canary of canaries) {
      expect(audit).not.toContain(canary);
      expect(logs).not.toContain(canary);
      expect(audit).not.toContain(createHash('sha256').update(canary).digest('hex'));
    }
  });
});
