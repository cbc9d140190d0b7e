import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { randomIds } from '../../src/core/index.js';
import {
  createDatabaseSessionStore,
  createGroups,
  createUsers,
  createWebSessions,
  type Principal,
  type Users,
  type WebSessions,
} from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';

const admin: Principal = { kind: 'user', id: 'cli-admin', name: 'CLI admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

describe('Users', () => {
  const fresh = useTestDatabase();

  async function setup() {
    let now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now, advance: (ms: number) => (now += ms) };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    const sessions: WebSessions & { sweep(): Promise<number> } = createWebSessions({
      store: createDatabaseSessionStore({ db: fresh.db.database.db }),
      trail: audit.trail,
      clock,
      ids: randomIds,
      sweepIntervalMs: 0,
    });
    fresh.defer(() => sessions.close());
    const users: Users = createUsers({ db: fresh.db.database.db, trail: audit.trail, clock, ids: randomIds, sessions, publicUrl: 'https://wa.example.test/' });
    const groups = createGroups({ db: fresh.db.database.db, trail: audit.trail, clock, ids: randomIds });
    const events = async (prefix: string) => {
      await audit.trail.flush();
      const page = await audit.reader.search({ actionPrefix: prefix }, { limit: 100, order: 'asc' });
      return page.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
    };
    return { clock, audit, sessions, users, groups, events };
  }

  it('creates users with a lower-case unique username and never exposes secrets in records', async () => {
    const { users, events } = await setup();
    const created = await users.create({ username: ' Alice.Smith ', email: 'alice@example.test', roles: ['operator'], source: 'local' }, admin);
    expect(created).toMatchObject({ username: 'alice.smith', displayName: 'alice.smith', roles: ['operator'], mfaEnrolled: false, disabled: false, source: 'local' });
    expect(Object.keys(created).sort()).toEqual(
      ['createdAt', 'disabled', 'displayName', 'email', 'id', 'kind', 'lastLoginAt', 'mfaEnrolled', 'mfaRequired', 'roles', 'source', 'updatedAt', 'username'].sort(),
    );
    await expect(users.create({ username: 'ALICE.smith', source: 'local' }, admin)).rejects.toMatchObject({ code: 'user_exists' });
    for (const bad of ['', ' ', '-lead', 'a'.repeat(129), 'semi;colon', "o'hara", '<script>', 'tab\tname']) {
      await expect(users.create({ username: bad, source: 'local' }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    await expect(users.create({ username: 'bob', roles: ['root' as never], source: 'local' }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(users.create({ username: 'bob', email: 'not-an-email', source: 'local' }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await users.findByUsername('ALICE.SMITH')).toMatchObject({ id: created.id });
    expect(await users.get('not-a-uuid')).toBeNull();
    const [event] = await events('user.created');
    expect(event).toMatchObject({ actorId: 'cli-admin', targetKind: 'user', targetId: created.id });
    expect(event!.details.after).toMatchObject({ username: 'alice.smith', roles: ['operator'] });
  });

  it('gives effective roles from the user and their groups, and records updates with before and after', async () => {
    const { users, groups, events } = await setup();
    const u = await users.create({ username: 'gina', roles: ['operator'], source: 'local' }, admin);
    const auditors = await groups.create({ name: 'Auditors', roles: ['auditor'] }, admin);
    await groups.create({ name: 'Empty' }, admin);
    await groups.addMember(auditors.id, u.id, admin);
    expect(await users.sessionUser(u.id)).toEqual({
      id: u.id,
      username: 'gina',
      name: 'gina',
      email: null,
      kind: 'person',
      roles: ['auditor', 'operator'],
      groups: [{ id: auditors.id, name: 'Auditors' }],
    });
    const { before, after } = await users.update(u.id, { displayName: 'Gina G.', roles: [], mfaRequired: true }, admin);
    expect(before).toMatchObject({ displayName: 'gina', roles: ['operator'], mfaRequired: false });
    expect(after).toMatchObject({ displayName: 'Gina G.', roles: [], mfaRequired: true });
    expect((await users.sessionUser(u.id))?.roles).toEqual(['auditor']);
    const [event] = await events('user.updated');
    expect(event!.details).toMatchObject({ before: { roles: ['operator'] }, after: { roles: [] } });
  });

  it('disabling a user ends every session at once, and keeps one enabled admin', async () => {
    const { users, sessions, events } = await setup();
    const root = await users.create({ username: 'root', roles: ['admin'], source: 'local' }, admin);
    const op = await users.create({ username: 'op', roles: ['operator'], source: 'local' }, admin);
    const snapshot = (await users.sessionUser(op.id))!;
    const a = await sessions.create({ user: snapshot, mfa: false, method: 'password', context: {} });
    const b = await sessions.create({ user: snapshot, mfa: false, method: 'password', context: {} });
    expect(await sessions.resolve(a.cookieValue)).not.toBeNull();
    await users.disable(op.id, admin, 'contract ended');
    expect(await sessions.resolve(a.cookieValue)).toBeNull();
    expect(await sessions.resolve(b.cookieValue)).toBeNull();
    expect(await users.sessionUser(op.id)).toBeNull();
    expect((await users.list()).map((u) => u.username)).toEqual(['root']);
    expect((await users.list({ includeDisabled: true })).map((u) => u.username)).toEqual(['op', 'root']);
    expect((await events('user.disabled'))[0]!.details).toEqual({ username: 'op', reason: 'contract ended' });
    await expect(users.disable(op.id, admin, '')).rejects.toMatchObject({ code: 'invalid_request' });

    await expect(users.disable(root.id, admin, 'oops')).rejects.toMatchObject({ code: 'last_admin' });
    await expect(users.delete(root.id, admin)).rejects.toMatchObject({ code: 'last_admin' });
    await expect(users.update(root.id, { roles: ['operator'] }, admin)).rejects.toMatchObject({ code: 'last_admin' });
    await users.enable(op.id, admin);
    await users.update(op.id, { roles: ['admin'] }, admin);
    await users.disable(root.id, admin, 'handed over');
    expect((await users.get(root.id))?.disabled).toBe(true);
  });

  it('delete ends sessions and removes the row; reset MFA forgets the seed and codes and returns a link', async () => {
    const { users, sessions, audit } = await setup();
    await users.create({ username: 'root', roles: ['admin'], source: 'local' }, admin);
    const op = await users.create({ username: 'op', roles: ['operator'], source: 'local' }, admin);
    const db = fresh.db.database.db;
    await db.updateTable('users').set({ totp_secret_sealed: 'v1.x.y.z', totp_enabled_at_ms: 1, totp_last_step: 5 }).where('id', '=', op.id).execute();
    await db.insertInto('user_recovery_codes').values({ user_id: op.id, code_hash: 'a'.repeat(64), created_at_ms: 1, used_at_ms: null }).execute();
    const s = await sessions.create({ user: (await users.sessionUser(op.id))!, mfa: true, method: 'password', context: {} });
    const reset = await users.resetMfa(op.id, admin);
    expect(reset.enrolmentUrl).toMatch(/^https:\/\/wa\.example\.test\/enrol\?token=[A-Za-z0-9_-]{43}$/);
    expect(await sessions.resolve(s.cookieValue)).toBeNull();
    const row = await db.selectFrom('users').selectAll().where('id', '=', op.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ totp_secret_sealed: null, totp_enabled_at_ms: null, totp_last_step: null });
    expect(await db.selectFrom('user_recovery_codes').selectAll().execute()).toEqual([]);
    const token = new URL(reset.enrolmentUrl).searchParams.get('token')!;
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(db);
    await audit.trail.flush();
    expect(rows.map((r) => r.row).join('\n')).not.toContain(token);
    expect((await db.selectFrom('user_enrolments').selectAll().execute()).map((r) => r.token_hash.trim())).not.toContain(token);

    await users.delete(op.id, admin);
    expect(await users.get(op.id)).toBeNull();
    await expect(users.delete(op.id, admin)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a new enrolment link retires the earlier one', async () => {
    const { users } = await setup();
    const u = await users.create({ username: 'eve', source: 'local' }, admin);
    const first = await users.createEnrolmentLink(u.id, 'enrol', admin);
    await users.createEnrolmentLink(u.id, 'enrol', admin);
    const rows = await fresh.db.database.db.selectFrom('user_enrolments').selectAll().where('user_id', '=', u.id).orderBy('created_at_ms').execute();
    expect(rows.filter((r) => r.used_at_ms === null)).toHaveLength(1);
    expect(first.expiresAt).toBe(new Date(Date.UTC(2026, 0, 1) + 48 * 3_600_000).toISOString());
  });

  it('provisions OIDC users by issuer and subject, never taking over a local account of the same name', async () => {
    const { users } = await setup();
    const local = await users.create({ username: 'carol', source: 'local', roles: ['admin'] }, admin);
    const first = await users.provisionOidc({ issuer: 'https://idp.example.test', subject: 'sub-1', username: 'Carol', email: 'carol@idp.test', name: 'Carol C' });
    expect(first.id).not.toBe(local.id);
    expect(first.username).not.toBe('carol');
    expect(first).toMatchObject({ source: 'oidc', roles: [], email: 'carol@idp.test', displayName: 'Carol C' });
    const again = await users.provisionOidc({ issuer: 'https://idp.example.test', subject: 'sub-1', username: 'carol', email: null, name: 'Carol Renamed' });
    expect(again).toMatchObject({ id: first.id, displayName: 'Carol Renamed', email: null });
    await expect(users.createEnrolmentLink(first.id, 'enrol', admin)).rejects.toMatchObject({ code: 'invalid_request' });
    const robot = await users.create({ username: 'robot', kind: 'service', roles: ['agent'], source: 'local' }, admin);
    await expect(users.createEnrolmentLink(robot.id, 'enrol', admin)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
