import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditTrail } from '../../src/audit/index.js';
import { randomIds } from '../../src/core/index.js';
import { createGroups, type Groups, type MembershipEffects, type Principal } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { insertPlainUser } from '../support/session-user.js';

const admin: Principal = { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

describe('groups and memberships', () => {
  const fresh = useTestDatabase();
  let groups: Groups;
  let trail: AuditTrail;
  let effects: { ended: string[]; refreshed: string[] };

  beforeEach(async () => {
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir);
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    trail = audit.trail;
    effects = { ended: [], refreshed: [] };
    const port: MembershipEffects = {
      endSessions: async (userId) => void effects.ended.push(userId),
      refreshSessions: async (userId) => void effects.refreshed.push(userId),
    };
    groups = createGroups({ db: fresh.db.database.db, trail, clock: { now: () => Date.UTC(2026, 0, 1) }, ids: randomIds, effects: port });
  });

  const user = (username: string): Promise<string> => insertPlainUser(fresh.db.database.db, username);

  async function events(action: string) {
    await trail.flush();
    const { rows } = await sql<{ details: string; target_id: string }>`SELECT details, target_id FROM audit_events WHERE action = ${action} ORDER BY seq`.execute(fresh.db.database.db);
    return rows.map((r) => ({ targetId: r.target_id, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  it('creates, renames and deletes a group, auditing before and after', async () => {
    const ops = await groups.create({ name: 'ops', description: 'Operators', roles: ['operator'] }, admin);
    expect(await groups.findByName('ops')).toEqual(ops);
    const { before, after } = await groups.update(ops.id, { name: 'ops-emea', roles: ['operator', 'auditor'] }, admin);
    expect(before.name).toBe('ops');
    expect(after).toMatchObject({ name: 'ops-emea', roles: ['auditor', 'operator'] });
    expect((await events('group.updated'))[0]!.details).toMatchObject({ before: { name: 'ops' }, after: { name: 'ops-emea' } });
    await groups.delete(ops.id, admin);
    expect(await groups.get(ops.id)).toBeNull();
    expect(await events('group.deleted')).toHaveLength(1);
  });

  it('refuses duplicates (case-insensitively), unknown fields and bad names, changing nothing', async () => {
    await groups.create({ name: 'Ops' }, admin);
    await expect(groups.create({ name: 'ops' }, admin)).rejects.toMatchObject({ code: 'conflict' });
    for (const bad of [{ name: '' }, { name: 'x'.repeat(101) }, { name: "'; DROP TABLE groups; --" }, { name: '<script>' }, { name: 'a', roles: ['root'] }, { name: 'b', extra: 1 }]) {
      await expect(groups.create(bad as never, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    expect((await groups.list()).map((g) => g.name)).toEqual(['Ops']);
    expect(await events('group.created')).toHaveLength(1);
    await expect(groups.update('00000000-0000-4000-8000-000000000000', { name: 'z' }, admin)).rejects.toMatchObject({ code: 'not_found' });
    await expect(groups.get('not-a-uuid')).resolves.toBeNull();
  });

  it('ends sessions when a user loses their last group, refreshes them otherwise', async () => {
    const alice = await user('alice');
    const a = await groups.create({ name: 'a' }, admin);
    const b = await groups.create({ name: 'b' }, admin);
    await groups.addMember(a.id, alice, admin);
    await groups.addMember(b.id, alice, admin);
    await expect(groups.addMember(b.id, alice, admin)).rejects.toMatchObject({ code: 'conflict' });
    expect(effects.refreshed).toEqual([alice, alice]);
    await groups.removeMember(a.id, alice, admin);
    expect(effects.ended).toEqual([]);
    await groups.update(b.id, { roles: ['operator'] }, admin);
    expect(effects.refreshed).toHaveLength(4);
    await groups.delete(b.id, admin);
    expect(effects.ended).toEqual([alice]);
    await expect(groups.removeMember(a.id, alice, admin)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('syncs oidc memberships from a claim, ignoring unknown names and never touching local ones', async () => {
    const bob = await user('bob');
    const ops = await groups.create({ name: 'ops' }, admin);
    const audit = await groups.create({ name: 'auditors', roles: ['auditor'] }, admin);
    const local = await groups.create({ name: 'local-only' }, admin);
    await groups.addMember(local.id, bob, admin);

    expect(await groups.syncOidcMemberships(bob, ['ops', 'auditors', 'nope', 'bad\nname'])).toEqual({ added: ['auditors', 'ops'], removed: [], ignored: ['nope'] });
    expect((await groups.groupsOfUser(bob)).map((g) => `${g.name}:${g.source}`)).toEqual(['auditors:oidc', 'local-only:local', 'ops:oidc']);
    // Second sign-in with the same claim: nothing changes, nothing recorded.
    expect(await groups.syncOidcMemberships(bob, ['ops', 'auditors'])).toEqual({ added: [], removed: [], ignored: [] });
    expect(await events('group.memberships.synced')).toHaveLength(1);

    // The claim drops auditors and never mentions local-only: only the oidc membership goes.
    expect(await groups.syncOidcMemberships(bob, ['ops', 'local-only'])).toEqual({ added: [], removed: ['auditors'], ignored: [] });
    expect((await groups.groupsOfUser(bob)).map((g) => `${g.name}:${g.source}`)).toEqual(['local-only:local', 'ops:oidc']);
    const synced = await events('group.memberships.synced');
    expect(synced[1]).toMatchObject({ targetId: bob, details: { before: expect.any(Array), after: [{ group: 'local-only', source: 'local' }, { group: 'ops', source: 'oidc' }] } });

    // An administrator adding an oidc member makes the membership local: the claim no longer removes it.
    await groups.addMember(ops.id, bob, admin);
    await groups.syncOidcMemberships(bob, []);
    expect((await groups.groupsOfUser(bob)).map((g) => `${g.name}:${g.source}`)).toEqual(['local-only:local', 'ops:local']);
    expect(audit.roles).toEqual(['auditor']);
  });

  it('ends the sessions of a provider user whose claim no longer names any group', async () => {
    const carol = await user('carol');
    await groups.create({ name: 'ops' }, admin);
    await groups.syncOidcMemberships(carol, ['ops']);
    await groups.syncOidcMemberships(carol, []);
    expect(effects.ended).toEqual([carol]);
    await expect(groups.syncOidcMemberships(randomIds.uuid(), ['ops'])).rejects.toMatchObject({ code: 'not_found' });
  });
});
