import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds } from '../../src/core/index.js';
import { createApiTokens, type ApiTokens, type Principal } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const admin: Principal = { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

describe('API tokens', () => {
  let t: TestDatabase;
  let now: number;
  let tokens: ApiTokens;
  beforeEach(async () => {
    t = await createTestDatabase();
    now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now };
    const audit = buildAudit(t.database, t.dataDir, { clock });
    await audit.trail.start();
    tokens = createApiTokens({ db: t.database.db, trail: audit.trail, clock, ids: randomIds });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('authenticates a token until it is revoked, and stores only its hash', async () => {
    const { id, token } = await tokens.create({ name: 'script', role: 'auditor', createdBy: admin });
    expect(await tokens.authenticate(token)).toMatchObject({ id: `token:${id}`, roles: ['auditor'], kind: 'user', via: 'api_token' });
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM api_tokens t`.execute(t.database.db);
    expect(rows.map((r) => r.row).join()).not.toContain(token);
    const { rows: events } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(t.database.db);
    expect(events.map((r) => r.row).join()).not.toContain(token);
    await tokens.revoke(id, admin);
    expect(await tokens.authenticate(token)).toBeNull();
    expect((await tokens.list())[0]).toMatchObject({ id, revoked: true });
  });

  it('stops accepting a token when it expires', async () => {
    const { token } = await tokens.create({ name: 'short', role: 'agent', createdBy: admin, expiresInDays: 1 });
    expect((await tokens.authenticate(token))?.kind).toBe('agent');
    now += 86_400_000;
    expect(await tokens.authenticate(token)).toBeNull();
  });

  it('refuses malformed tokens without a lookup, and bad input with a stable code', async () => {
    for (const bad of ['', 'wat_short', `xyz_${'a'.repeat(43)}`, `wat_${'a'.repeat(42)}!`]) expect(await tokens.authenticate(bad)).toBeNull();
    await expect(tokens.create({ name: ' ', role: 'auditor', createdBy: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(tokens.create({ name: 'x', role: 'root' as never, createdBy: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(tokens.revoke('00000000-0000-0000-0000-000000000000', admin)).rejects.toMatchObject({ code: 'not_found' });
  });
});
