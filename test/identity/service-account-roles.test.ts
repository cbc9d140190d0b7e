import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newUserRow } from '../../src/identity/index.js';
import { Browser, TEST_ADMIN } from '../support/accounts.js';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 3, point 9: tokens are for service accounts, role `agent`. A bearer token carries no second
 * factor, so a service account never holds admin, auditor or operator (point 1: MFA is mandatory for
 * admin and auditor), whichever path tries to give it one, and an old row that says otherwise does
 * not make its token an administrator.
 */
describe('service accounts hold only the agent role', () => {
  let t: TestServer;
  let admin: Browser;
  beforeAll(async () => {
    t = await startTestServer();
    admin = new Browser(t.url, { authorization: `Bearer ${await t.token('admin')}` });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const db = () => t.services.database.db;
  const userRow = (username: string) => db().selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  const auditCount = async (action: string) => {
    const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM audit_events WHERE action = ${action}`.execute(db());
    return Number(rows[0]!.n);
  };
  const bearer = (token: string) => new Browser(t.url, { authorization: `Bearer ${token}` });

  it("refuses the audit's scenario: a service account with the admin role is not created (400 service_account_role, nothing changed)", async () => {
    const createdBefore = await auditCount('user.created');
    for (const roles of [['admin'], ['auditor'], ['operator'], ['agent', 'admin'], ['agent', 'auditor']]) {
      const res = await admin.call('POST', '/api/admin/users', { username: 'svc-bot', kind: 'service', roles });
      expect(res.status, JSON.stringify(roles)).toBe(400);
      expect(res.body.error?.code).toBe('service_account_role');
      expect(res.body.error?.message).toMatch(/only the agent role/);
    }
    expect(await userRow('svc-bot')).toBeUndefined();
    expect(await auditCount('user.created')).toBe(createdBefore);
  });

  it('a service account with the agent role gets a token that is an agent, not an administrator', async () => {
    const svc = await admin.call('POST', '/api/admin/users', { username: 'svc-bot', kind: 'service', roles: ['agent'] });
    expect(svc.status).toBe(201);
    const id = (svc.body.user as { id: string }).id;

    // Giving it another role later is refused the same way; the stored roles stay.
    const patch = await admin.call('PATCH', `/api/admin/users/${id}`, { roles: ['admin'] });
    expect(patch.status).toBe(400);
    expect(patch.body.error?.code).toBe('service_account_role');
    expect((await userRow('svc-bot'))!.roles).toEqual(['agent']);

    const tok = await admin.call('POST', '/api/admin/tokens', { name: 'bot', serviceAccountId: id, scopes: ['api:read', 'api:write'] });
    expect(tok.status).toBe(201);
    expect((tok.body.info as { role: string }).role).toBe('agent');
    const bot = bearer(tok.body.token as string);
    const who = await bot.call('GET', '/api/auth/session');
    expect(who.status).toBe(200);
    expect((who.body.user as { roles: string[] }).roles).toEqual(['agent']);
    expect((await bot.call('GET', '/api/admin/users')).status).toBe(403);
    const mint = await bot.call('POST', '/api/admin/users', { username: 'evil-admin', roles: ['admin'] });
    expect(mint.status).toBe(403);
    expect(await userRow('evil-admin')).toBeUndefined();
  });

  it('an existing service account row with the admin role (old data) does not make its token an administrator', async () => {
    const id = '6f1c2a7e-0d4b-4c53-9a7e-1b2c3d4e5f60';
    const row = newUserRow({ id, username: 'legacy-bot', email: null, displayName: 'legacy-bot', kind: 'service', roles: ['admin', 'auditor', 'agent'], source: 'local', mfaRequired: false }, Date.now());
    await db()
      .insertInto('users')
      .values({ ...row, roles: sql<string[]>`${JSON.stringify(row.roles)}::jsonb` })
      .execute();
    // A group's roles are a second way to a role: an admin group does not lend its role to a service account either.
    const group = await t.services.groups.create({ name: 'legacy-admins', roles: ['admin'] }, TEST_ADMIN);
    await t.services.groups.addMember(group.id, id, TEST_ADMIN);

    const { token, info } = await t.services.tokens.create({ name: 'legacy', serviceAccountId: id, scopes: ['api:read', 'api:write'], createdBy: TEST_ADMIN });
    expect(info.role).toBe('agent');
    const principal = await t.services.tokens.authenticate(token);
    expect(principal?.roles).toEqual(['agent']);

    const bot = bearer(token);
    const who = await bot.call('GET', '/api/auth/session');
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ via: 'api_token', mfa: false });
    expect((who.body.user as { roles: string[] }).roles).toEqual(['agent']);
    expect((await bot.call('GET', '/api/admin/users')).status).toBe(403);
    expect((await bot.call('GET', '/api/audit')).status).toBe(403);
    expect((await bot.call('POST', '/api/admin/users', { username: 'evil-admin-2', roles: ['admin'] })).status).toBe(403);
    expect(await userRow('evil-admin-2')).toBeUndefined();

    // An edit of such a row must fix its roles: the result is checked, not only the change.
    const rename = await admin.call('PATCH', `/api/admin/users/${id}`, { displayName: 'Legacy bot' });
    expect(rename.status).toBe(400);
    expect(rename.body.error?.code).toBe('service_account_role');
    const fixed = await admin.call('PATCH', `/api/admin/users/${id}`, { displayName: 'Legacy bot', roles: ['agent'] });
    expect(fixed.status).toBe(200);
    expect((fixed.body.after as { roles: string[] }).roles).toEqual(['agent']);
  });
});

describe('webasset import refuses a service account with another role than agent', { timeout: 300_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let dbUrl: string | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-svc-roles-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    env = { WEBASSET_DATA_DIR: join(dir, 'data'), ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
  });
  afterEach(async () => {
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  const policy = (users: string) => {
    writeFileSync(join(dir, 'policy.yaml'), `version: 1\nusers:\n${users}`);
    return 'policy.yaml';
  };

  it('in a new entry, in a changed entry and by turning an administrator into a service account; dry run or not, nothing changes', async () => {
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    const base = '  - { username: root, roles: [admin] }\n  - { username: bot, kind: service, roles: [agent] }\n';
    const first = await cli(['import', policy(base)], env, dir);
    expect(first.code, first.stderr).toBe(0);

    const refused = [
      `${base}  - { username: svc-bot, kind: service, roles: [admin] }\n`,
      '  - { username: root, roles: [admin] }\n  - { username: bot, kind: service, roles: [agent, auditor] }\n',
      '  - { username: root, kind: service }\n  - { username: bot, kind: service, roles: [agent] }\n',
    ];
    for (const users of refused) {
      for (const args of [['import', policy(users), '--dry-run'], ['import', policy(users)]]) {
        const run = await cli(args, env, dir);
        expect(run.code, users).toBe(2);
        expect(run.stderr).toContain('error [service_account_role]');
        expect(run.stderr).toMatch(/users\.\d\.roles: a service account holds only agent/);
        expect(run.stdout).toBe('');
      }
    }
    // The database is as the first import left it.
    const again = await cli(['import', policy(base)], env, dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('No changes');
    const list = await cli(['users', 'list', '--all'], env, dir);
    expect(list.stdout).not.toContain('svc-bot');
  });
});
