import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAccess, createAssets, createGrants, type Access, type Assets, type Grants } from '../../src/access/index.js';
import type { AuditTrail } from '../../src/audit/index.js';
import { randomIds } from '../../src/core/index.js';
import { createGroups, type Groups, type Principal } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { insertPlainUser } from '../support/session-user.js';

const admin: Principal = { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
const officeHours = { timeZone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

describe('access: assets, permissions, authorizeAsset, visibleAssets', () => {
  const fresh = useTestDatabase();
  let now: number;
  let trail: AuditTrail;
  let access: Access;
  let assets: Assets;
  let grants: Grants;
  let groups: Groups;

  beforeEach(async () => {
    now = Date.parse('2026-01-05T10:00:00Z'); // Monday, 11:00 in Berlin
    const clock = { now: () => now };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    trail = audit.trail;
    const db = fresh.db.database.db;
    access = createAccess({ trail, db, clock });
    assets = createAssets({ db, trail, clock });
    grants = createGrants({ db, trail, clock, ids: randomIds });
    groups = createGroups({ db, trail, clock, ids: randomIds });
  });

  const user = (username: string): Promise<string> => insertPlainUser(fresh.db.database.db, username);

  async function denials(): Promise<Array<{ target: string | null; details: Record<string, unknown> }>> {
    await trail.flush();
    const { rows } = await sql<{ target_id: string | null; details: string }>`SELECT target_id, details FROM audit_events WHERE action = 'auth.denied' ORDER BY seq`.execute(fresh.db.database.db);
    return rows.map((r) => ({ target: r.target_id, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  it('allows through a group grant within its window, and audits every denial with its reason', async () => {
    const alice = await user('alice');
    const ops = await groups.create({ name: 'ops' }, admin);
    await assets.create({ id: 'loans', name: 'Loans', url: 'https://loans.example.com/' }, admin);
    const grant = await grants.create({ subjectKind: 'group', subjectId: ops.id, assetId: 'loans', actions: ['connect'], timeWindow: officeHours, maxConcurrent: 1 }, admin);
    const p: Principal = { kind: 'user', id: alice, name: 'alice', roles: ['operator'], groups: [{ id: ops.id, name: 'ops' }], via: 'session', mfa: true };

    await expect(access.authorizeAsset(p, 'connect', 'loans', { activeSessions: 0 })).resolves.toBeUndefined();
    await expect(access.authorizeAsset(p, 'connect', 'loans', { activeSessions: 1 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(access.authorizeAsset(p, 'watch', 'loans', {})).rejects.toMatchObject({ code: 'forbidden' });
    await expect(access.authorizeAsset({ ...p, groups: [] }, 'connect', 'loans', { activeSessions: 0 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(access.authorizeAsset(p, 'connect', 'nope', { activeSessions: 0 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(access.authorizeAsset(p, 'connect', "'; DROP TABLE assets; --", {})).rejects.toMatchObject({ code: 'forbidden' });
    now = Date.parse('2026-01-05T17:30:00Z');
    await expect(access.authorizeAsset(p, 'connect', 'loans', { activeSessions: 0, requestId: 'r-1' })).rejects.toMatchObject({ code: 'forbidden' });

    expect((await denials()).map((d) => [d.target, d.details.reason])).toEqual([
      ['loans', 'max_concurrent_sessions'],
      ['loans', 'no_grant'],
      ['loans', 'no_grant'],
      ['nope', 'unknown_asset'],
      ["'; DROP TABLE assets; --", 'unknown_asset'],
      ['loans', 'outside_time_window'],
    ]);
    expect(grant.actions).toEqual(['connect']);
  });

  it('lists the assets a caller holds an action on, marking those not available right now', async () => {
    const bob = await user('bob');
    const ops = await groups.create({ name: 'ops' }, admin);
    for (const id of ['a-day', 'b-always', 'c-other']) await assets.create({ id, name: id.toUpperCase(), url: `https://${id}.example.com/` }, admin);
    await grants.create({ subjectKind: 'group', subjectId: ops.id, assetId: 'a-day', actions: ['connect'], timeWindow: officeHours }, admin);
    await grants.create({ subjectKind: 'user', subjectId: bob, assetId: 'b-always', actions: ['connect', 'watch'] }, admin);
    const p: Principal = { kind: 'user', id: bob, name: 'bob', roles: ['operator'], groups: [{ id: ops.id, name: 'ops' }], via: 'session', mfa: true };

    expect(await access.visibleAssets(p, 'connect')).toEqual([
      { id: 'a-day', name: 'A-DAY', url: 'https://a-day.example.com/', available: true },
      { id: 'b-always', name: 'B-ALWAYS', url: 'https://b-always.example.com/', available: true },
    ]);
    now = Date.parse('2026-01-10T10:00:00Z'); // Saturday
    expect((await access.visibleAssets(p, 'connect')).map((a) => [a.id, a.available, a.reason])).toEqual([
      ['a-day', false, 'outside_time_window'],
      ['b-always', true, undefined],
    ]);
    expect((await access.visibleAssets(p, 'watch')).map((a) => a.id)).toEqual(['b-always']);
    expect(await access.visibleAssets({ ...p, id: randomIds.uuid(), groups: [] }, 'connect')).toEqual([]);
    // Auditors replay everything: their role, not a grant.
    const auditor: Principal = { kind: 'user', id: randomIds.uuid(), name: 'aud', roles: ['auditor'], groups: [], via: 'session', mfa: true };
    expect((await access.visibleAssets(auditor, 'replay')).map((a) => a.id)).toEqual(['a-day', 'b-always', 'c-other']);
  });

  it('validates assets and permissions, refuses duplicates, and audits before and after', async () => {
    await assets.create({ id: 'portal', name: 'Portal', url: 'https://portal.example.com/login', allowedHosts: ['portal.example.com', '*.cdn.example.com'] }, admin);
    await expect(assets.create({ id: 'portal', name: 'Again', url: 'https://portal.example.com/' }, admin)).rejects.toMatchObject({ code: 'conflict' });
    for (const bad of [
      { id: 'Bad_Id', name: 'x', url: 'https://x.example.com/' },
      { id: 'x', name: 'x', url: 'ftp://x.example.com/' },
      { id: 'x', name: 'x', url: 'https://u:p@x.example.com/' },
      { id: 'x', name: 'x', url: 'https://x.example.com/', allowedHosts: ['*.com'] },
      { id: 'x', name: 'x', url: 'https://x.example.com/', allowedHosts: ['y.example.com'] },
      { id: 'x', name: '', url: 'https://x.example.com/' },
      { id: 'x', name: 'x', url: 'https://x.example.com/', extra: 1 },
    ]) {
      await expect(assets.create(bad as never, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    const { before, after } = await assets.update('portal', { url: 'https://login.cdn.example.com/' }, admin);
    expect([before.url, after.url]).toEqual(['https://portal.example.com/login', 'https://login.cdn.example.com/']);
    await expect(assets.update('portal', { url: 'https://evil.example.net/' }, admin)).rejects.toMatchObject({ code: 'invalid_request' });

    const g = await groups.create({ name: 'g' }, admin);
    const perm = await grants.create({ subjectKind: 'group', subjectId: g.id, assetId: 'portal', actions: ['watch', 'connect'] }, admin);
    await expect(grants.create({ subjectKind: 'group', subjectId: g.id, assetId: 'portal', actions: ['replay'] }, admin)).rejects.toMatchObject({ code: 'conflict' });
    await expect(grants.create({ subjectKind: 'group', subjectId: randomIds.uuid(), assetId: 'portal', actions: ['connect'] }, admin)).rejects.toMatchObject({ code: 'not_found' });
    await expect(grants.create({ subjectKind: 'group', subjectId: g.id, assetId: 'missing', actions: ['connect'] }, admin)).rejects.toMatchObject({ code: 'not_found' });
    await expect(grants.update(perm.id, { timeWindow: { ...officeHours, timeZone: 'Nowhere/Land' } }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(grants.update(perm.id, { maxConcurrent: 0 }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    const unchanged = await grants.update(perm.id, { actions: ['connect', 'watch'] }, admin);
    expect(unchanged.after).toEqual(unchanged.before);

    // Deleting the group takes its permissions; deleting the asset takes the rest.
    await groups.delete(g.id, admin);
    expect(await grants.get(perm.id)).toBeNull();
    await assets.delete('portal', admin);
    await trail.flush();
    const { rows } = await sql<{ action: string }>`SELECT action FROM audit_events WHERE action LIKE 'asset.%' OR action LIKE 'permission.%' ORDER BY seq`.execute(fresh.db.database.db);
    expect(rows.map((r) => r.action)).toEqual(['asset.created', 'asset.updated', 'permission.created', 'asset.deleted']);
  });
});
