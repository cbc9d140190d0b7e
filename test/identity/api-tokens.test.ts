import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { randomIds } from '../../src/core/index.js';
import { createApiTokens, createUsers, type ApiTokens, type Principal, type Users } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';

const admin: Principal = { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
const DAY = 86_400_000;

describe('API tokens', () => {
  const fresh = useTestDatabase();
  let now: number;
  let tokens: ApiTokens;
  let users: Users;
  beforeEach(async () => {
    now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    users = createUsers({ db: fresh.db.database.db, trail: audit.trail, clock, ids: randomIds, sessions: { revokeAllForUser: async () => 0 }, publicUrl: 'http://127.0.0.1:8080' });
    tokens = createApiTokens({ db: fresh.db.database.db, trail: audit.trail, clock, ids: randomIds, users });
  });

  const dump = async (table: 'api_tokens' | 'audit_events') => {
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(table)} t`.execute(fresh.db.database.db);
    return rows.map((r) => r.row).join('\n');
  };
  const serviceAccount = (username = 'agent-bot') => users.create({ username, kind: 'service', roles: ['agent'], source: 'local' }, admin);
  const operator = (username = 'olga') => users.create({ username, roles: ['operator'], source: 'local' }, admin);

  it('authenticates a role token until it is revoked, and stores only its hash', async () => {
    const { id, token, info } = await tokens.create({ name: 'script', role: 'auditor', createdBy: admin });
    expect(token).toMatch(/^wat_[A-Za-z0-9_-]{43}$/);
    expect(info).toMatchObject({ id, role: 'auditor', scopes: ['api:read', 'api:write'], expiresAt: new Date(now + 90 * DAY).toISOString(), revoked: false });
    expect(await tokens.authenticate(token)).toMatchObject({ id: `token:${id}`, roles: ['auditor'], kind: 'user', via: 'api_token', tokenId: id, scopes: ['api:read', 'api:write'] });
    expect(await dump('api_tokens')).not.toContain(token);
    expect(await dump('audit_events')).not.toContain(token);
    await tokens.revoke(id, admin);
    expect(await tokens.authenticate(token)).toBeNull();
    expect((await tokens.list())[0]).toMatchObject({ id, revoked: true });
    await tokens.revoke(id, admin);
    expect((await dump('audit_events')).match(/token\.revoked/g)).toHaveLength(1);
  });

  it('makes every new token expire: 90 days by default, at most 365', async () => {
    const { token } = await tokens.create({ name: 'default', role: 'agent', createdBy: admin });
    const { token: short } = await tokens.create({ name: 'short', role: 'agent', createdBy: admin, expiresInDays: 1 });
    expect((await tokens.authenticate(short))?.kind).toBe('agent');
    now += DAY;
    expect(await tokens.authenticate(short)).toBeNull();
    expect(await tokens.authenticate(token)).not.toBeNull();
    now += 89 * DAY;
    expect(await tokens.authenticate(token)).toBeNull();
    for (const days of [0, 366, 1.5, -1]) {
      await expect(tokens.create({ name: 'x', role: 'agent', createdBy: admin, expiresInDays: days })).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it('acts as its service account, with scopes, and for an operator with their roles and groups', async () => {
    const bot = await serviceAccount();
    const olga = await operator();
    const { id, token, info } = await tokens.create({ name: 'claude', serviceAccountId: bot.id, scopes: ['mcp', 'mcp'], onBehalfOfId: olga.id, createdBy: admin, expiresInDays: 30 });
    expect(info).toMatchObject({ role: 'agent', scopes: ['mcp'], serviceAccount: { id: bot.id, username: 'agent-bot' }, onBehalfOf: { id: olga.id, username: 'olga' } });
    expect(await tokens.authenticate(token)).toEqual({
      kind: 'agent',
      id: bot.id,
      name: bot.displayName,
      username: 'agent-bot',
      email: null,
      roles: ['agent'],
      groups: [],
      via: 'api_token',
      mfa: false,
      tokenId: id,
      scopes: ['mcp'],
      onBehalfOf: { id: olga.id, name: olga.displayName, roles: ['operator'], groups: [] },
    });
    const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events WHERE action = 'token.created'`.execute(fresh.db.database.db);
    expect(JSON.parse(rows[0]!.details)).toEqual({
      name: 'claude',
      role: 'agent',
      scopes: ['mcp'],
      serviceAccount: { id: bot.id, username: 'agent-bot' },
      onBehalfOf: { id: olga.id, username: 'olga' },
      expiresAt: new Date(now + 30 * DAY).toISOString(),
    });
    expect(await dump('audit_events')).not.toContain(token);
  });

  it('refuses a token at once when its service account or its operator is disabled, and again accepts it when enabled', async () => {
    const bot = await serviceAccount();
    const olga = await operator();
    const { token } = await tokens.create({ name: 'a', serviceAccountId: bot.id, scopes: ['api:read'], createdBy: admin });
    const { token: forOlga } = await tokens.create({ name: 'b', serviceAccountId: bot.id, scopes: ['api:read'], onBehalfOfId: olga.id, createdBy: admin });
    await users.disable(olga.id, admin, 'left');
    expect(await tokens.authenticate(forOlga)).toBeNull();
    expect(await tokens.authenticate(token)).not.toBeNull();
    await users.disable(bot.id, admin, 'rotated');
    expect(await tokens.authenticate(token)).toBeNull();
    await users.enable(bot.id, admin);
    expect(await tokens.authenticate(token)).not.toBeNull();
    await users.delete(bot.id, admin);
    expect(await tokens.authenticate(token)).toBeNull();
  });

  it('writes last-used at most once a minute per token', async () => {
    const { id, token } = await tokens.create({ name: 'hot', role: 'auditor', createdBy: admin });
    const lastUsed = async () => (await tokens.get(id))?.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    await tokens.authenticate(token);
    const first = new Date(now).toISOString();
    expect(await lastUsed()).toBe(first);
    now += 30_000;
    await tokens.authenticate(token);
    expect(await lastUsed()).toBe(first);
    now += 30_000;
    await tokens.authenticate(token);
    expect(await lastUsed()).toBe(new Date(now).toISOString());
  });

  it('refuses malformed tokens without a lookup, and bad input with a stable code and nothing stored', async () => {
    const bot = await serviceAccount();
    const olga = await operator();
    for (const bad of ['', 'wat_short', `xyz_${'a'.repeat(43)}`, `wat_${'a'.repeat(42)}!`]) expect(await tokens.authenticate(bad)).toBeNull();
    const attempts = [
      { name: ' ', role: 'auditor' as const },
      { name: 'x\u0000y', role: 'auditor' as const },
      { name: 'x', role: 'root' as never },
      { name: 'x', serviceAccountId: bot.id },
      { name: 'x', serviceAccountId: bot.id, scopes: ['admin'] },
      { name: 'x', serviceAccountId: bot.id, role: 'agent' as const, scopes: ['mcp'] },
      { name: 'x', serviceAccountId: olga.id, scopes: ['mcp'] },
      { name: 'x', serviceAccountId: 'not-a-uuid', scopes: ['mcp'] },
      { name: 'x', serviceAccountId: bot.id, scopes: ['mcp'], onBehalfOfId: bot.id },
      { name: 'x', role: 'agent' as const, onBehalfOfId: olga.id },
    ];
    for (const input of attempts) {
      await expect(tokens.create({ ...input, createdBy: admin }), JSON.stringify(input)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    expect(await tokens.list()).toEqual([]);
    await expect(tokens.revoke('00000000-0000-0000-0000-000000000000', admin)).rejects.toMatchObject({ code: 'not_found' });
    await expect(tokens.revoke("1' OR '1'='1", admin)).rejects.toMatchObject({ code: 'not_found' });
  });
});
