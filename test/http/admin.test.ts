import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { anonymous, call, sessionCaller, tokenCaller, type Caller } from './admin-callers.js';

describe('admin API', () => {
  let ts: TestServer;
  let admin: Caller;
  let operator: Caller;
  let auditor: Caller;

  beforeAll(async () => {
    ts = await startTestServer();
    admin = await sessionCaller(ts, 'root-admin', ['admin']);
    operator = await sessionCaller(ts, 'olga', ['operator']);
    auditor = await sessionCaller(ts, 'audrey', ['auditor']);
  });
  afterAll(async () => {
    await ts?.stop();
  });

  async function audit(action: string): Promise<Array<{ actor_id: string; target_id: string | null; details: Record<string, unknown> }>> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ actor_id: string; target_id: string | null; details: string }>`SELECT actor_id, target_id, details FROM audit_events WHERE action = ${action} ORDER BY seq`.execute(
      ts.services.database.db,
    );
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  it('manages users, groups, members, assets and permissions, auditing each change with before and after', async () => {
    const created = await call(ts, admin, 'POST', '/api/admin/users', { username: 'bea', displayName: 'Bea', email: 'bea@example.com', roles: ['operator'] });
    expect(created.status).toBe(201);
    const bea = (created.json as { user: { id: string; username: string }; enrolment: { url: string } }).user;
    expect(bea.username).toBe('bea');
    expect((created.json as { enrolment: { url: string } }).enrolment.url).toMatch(/\/enrol\?token=/);
    expect(created.text).not.toMatch(/hash|totp|secret/i);

    const group = await call(ts, admin, 'POST', '/api/admin/groups', { name: 'loans', description: 'Loan desk', roles: ['operator'] });
    expect(group.status).toBe(201);
    const groupId = (group.json as { id: string }).id;
    expect((await call(ts, admin, 'POST', `/api/admin/groups/${groupId}/members`, { userId: bea.id })).status).toBe(201);
    expect((await call(ts, admin, 'POST', `/api/admin/groups/${groupId}/members`, { userId: bea.id })).json).toMatchObject({ error: { code: 'conflict' } });
    expect((await call(ts, auditor, 'GET', `/api/admin/groups/${groupId}/members`)).json).toMatchObject({ members: [{ userId: bea.id, source: 'local' }] });

    const asset = await call(ts, admin, 'POST', '/api/admin/assets', { id: 'loan-portal', name: 'Loan portal', url: 'https://loans.example.com/login', allowedHosts: ['loans.example.com', '*.cdn.example.com'] });
    expect(asset.status).toBe(201);
    expect((await call(ts, admin, 'POST', '/api/admin/assets', { id: 'loan-portal', name: 'again', url: 'https://loans.example.com/' })).json).toMatchObject({ error: { code: 'conflict' } });

    const perm = await call(ts, admin, 'POST', '/api/admin/permissions', {
      subjectKind: 'group',
      subjectId: groupId,
      assetId: 'loan-portal',
      actions: ['watch', 'connect'],
      timeWindow: { timeZone: 'Europe/Berlin', days: [5, 1, 2], start: '08:00', end: '18:00' },
      maxConcurrent: 2,
    });
    expect(perm.status).toBe(201);
    const permission = perm.json as { id: string; actions: string[]; timeWindow: { days: number[] } };
    expect(permission.actions).toEqual(['connect', 'watch']);
    expect(permission.timeWindow.days).toEqual([1, 2, 5]);
    const patched = await call(ts, admin, 'PATCH', `/api/admin/permissions/${permission.id}`, { timeWindow: null });
    expect(patched.json).toMatchObject({ before: { maxConcurrent: 2 }, after: { timeWindow: null, maxConcurrent: 2 } });
    expect((await call(ts, auditor, 'GET', `/api/admin/permissions?assetId=loan-portal`)).json).toMatchObject({ permissions: [{ id: permission.id }] });

    const renamed = await call(ts, admin, 'PATCH', '/api/admin/assets/loan-portal', { name: 'Loans' });
    expect(renamed.json).toMatchObject({ before: { name: 'Loan portal' }, after: { name: 'Loans' } });
    expect((await audit('asset.updated'))[0]).toMatchObject({ target_id: 'loan-portal', details: { before: { name: 'Loan portal' }, after: { name: 'Loans' } } });
    expect((await audit('permission.updated'))[0]!.details).toMatchObject({ before: { timeWindow: { timeZone: 'Europe/Berlin' } }, after: { timeWindow: null } });

    // The user's own view of the asset follows the grant.
    const visible = await ts.services.access.visibleAssets({ kind: 'user', id: bea.id, name: 'bea', roles: ['operator'], groups: [{ id: groupId, name: 'loans' }], via: 'session', mfa: true }, 'connect');
    expect(visible.map((a) => a.id)).toEqual(['loan-portal']);

    expect((await call(ts, admin, 'DELETE', `/api/admin/groups/${groupId}/members/${bea.id}`)).status).toBe(204);
    expect((await call(ts, admin, 'DELETE', `/api/admin/permissions/${permission.id}`)).status).toBe(204);
    expect((await call(ts, admin, 'DELETE', '/api/admin/assets/loan-portal')).status).toBe(204);
    expect((await call(ts, admin, 'GET', '/api/admin/assets/loan-portal')).status).toBe(404);
    for (const action of ['group.created', 'group.member.added', 'group.member.removed', 'asset.created', 'asset.deleted', 'permission.created', 'permission.deleted']) {
      expect(await audit(action), action).toHaveLength(1);
    }
  });

  it('disables, enables, resets MFA and revokes the sessions of a user', async () => {
    const victim = await sessionCaller(ts, 'vic', ['operator']);
    expect((await call(ts, victim, 'GET', '/api/auth/session')).status).toBe(200);
    const sessions = await call(ts, admin, 'GET', `/api/admin/users/${victim.userId}/sessions`);
    expect((sessions.json as { sessions: unknown[] }).sessions).toHaveLength(1);
    expect(await call(ts, admin, 'DELETE', `/api/admin/users/${victim.userId}/sessions`)).toMatchObject({ status: 200, json: { revoked: 1 } });
    expect((await call(ts, victim, 'GET', '/api/auth/session')).status).toBe(401);

    const again = await sessionCaller(ts, 'vic2', ['operator']);
    expect((await call(ts, admin, 'POST', `/api/admin/users/${again.userId}/disable`, { reason: 'left the bank' })).json).toMatchObject({ disabled: true });
    expect((await call(ts, again, 'GET', '/api/auth/session')).status).toBe(401);
    expect((await call(ts, admin, 'POST', `/api/admin/users/${again.userId}/enable`)).json).toMatchObject({ disabled: false });
    const reset = await call(ts, admin, 'POST', `/api/admin/users/${again.userId}/reset-mfa`);
    expect(reset.json).toMatchObject({ url: expect.stringMatching(/token=/) });
  });

  it('removing a user from their last group ends their sessions', async () => {
    const member = await sessionCaller(ts, 'gina', ['operator']);
    const g = (await call(ts, admin, 'POST', '/api/admin/groups', { name: 'gina-only' })).json as { id: string };
    await call(ts, admin, 'POST', `/api/admin/groups/${g.id}/members`, { userId: member.userId });
    expect((await call(ts, member, 'GET', '/api/auth/session')).json).toMatchObject({ user: { groups: [{ name: 'gina-only' }] } });
    expect((await call(ts, admin, 'DELETE', `/api/admin/groups/${g.id}/members/${member.userId}`)).status).toBe(204);
    expect((await call(ts, member, 'GET', '/api/auth/session')).status).toBe(401);
  });

  it('deleting a user removes the permissions granted to them', async () => {
    const u = (await call(ts, admin, 'POST', '/api/admin/users', { username: 'leaver', kind: 'service' })).json as { user: { id: string } };
    await call(ts, admin, 'POST', '/api/admin/assets', { id: 'leaver-portal', name: 'L', url: 'https://l.example.com/' });
    const perm = (await call(ts, admin, 'POST', '/api/admin/permissions', { subjectKind: 'user', subjectId: u.user.id, assetId: 'leaver-portal', actions: ['connect'] })).json as { id: string };
    expect((await call(ts, admin, 'DELETE', `/api/admin/users/${u.user.id}`)).status).toBe(204);
    expect((await call(ts, admin, 'GET', `/api/admin/permissions/${perm.id}`)).status).toBe(404);
    expect((await call(ts, admin, 'GET', `/api/admin/users/${u.user.id}`)).status).toBe(404);
  });

  it('refuses bad input with stable codes and changes nothing', async () => {
    const before = await audit('group.created');
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/api/admin/groups', { name: 'x', extra: true }],
      ['POST', '/api/admin/groups', { name: 'x'.repeat(101) }],
      ['POST', '/api/admin/groups', { name: 'ok', roles: ['root'] }],
      ['POST', '/api/admin/groups', {}],
      ['POST', '/api/admin/groups', ['array']],
      ['POST', '/api/admin/assets', { id: 'UPPER', name: 'x', url: 'https://a.example.com' }],
      ['POST', '/api/admin/assets', { id: 'a', name: 'x', url: 'javascript:alert(1)' }],
      ['POST', '/api/admin/assets', { id: 'a', name: 'x', url: 'https://user:pw@a.example.com' }],
      ['POST', '/api/admin/assets', { id: 'a', name: 'x', url: 'https://a.example.com', allowedHosts: ['*.com'] }],
      ['POST', '/api/admin/assets', { id: 'a', name: 'x', url: 'https://a.example.com', allowedHosts: ['b.example.com'] }],
      ['POST', '/api/admin/permissions', { subjectKind: 'group', subjectId: 'nope', assetId: 'a', actions: ['connect'] }],
      ['POST', '/api/admin/permissions', { subjectKind: 'role', subjectId: '00000000-0000-4000-8000-000000000000', assetId: 'a', actions: ['connect'] }],
      ['POST', '/api/admin/permissions', { subjectKind: 'group', subjectId: '00000000-0000-4000-8000-000000000000', assetId: 'a', actions: ['connect'], timeWindow: { timeZone: 'Mars/Base', days: [1], start: '09:00', end: '10:00' } }],
      ['POST', '/api/admin/users', { username: 'x', password: 'secretsecret' }],
      ['PATCH', '/api/admin/groups/not-a-uuid', { name: 'x' }],
      ['GET', '/api/admin/users?evil=1', undefined],
    ];
    for (const [method, path, body] of bad) {
      const r = await call(ts, admin, method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
    expect((await call(ts, admin, 'GET', '/api/admin/groups/00000000-0000-4000-8000-000000000000')).json).toMatchObject({ error: { code: 'not_found' } });
    expect(await audit('group.created')).toEqual(before);
    expect((await call(ts, operator, 'GET', '/api/admin/users')).status).toBe(403);
    expect((await call(ts, anonymous, 'GET', '/api/admin/users')).status).toBe(401);
  });

  it('lets an admin token with api:read read but not write, and an mcp-only token do neither', async () => {
    const reader = await tokenCaller(ts, 'reader', 'admin', ['api:read']);
    expect((await call(ts, reader, 'GET', '/api/admin/groups')).status).toBe(200);
    expect((await call(ts, reader, 'POST', '/api/admin/groups', { name: 'nope' })).status).toBe(403);
    const mcp = await tokenCaller(ts, 'mcp', 'admin', ['mcp']);
    expect((await call(ts, mcp, 'GET', '/api/admin/groups')).status).toBe(403);
  });
});
