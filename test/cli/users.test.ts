import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Browser, codeAt } from '../support/accounts.js';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe, stopServe } from '../support/serve-child.js';

const PUBLIC_URL = 'http://webasset.example.test:8443';
const PASSWORD = 'bootstrap admin passphrase 7';

describe('webasset users (bootstrap end to end)', () => {
  let dir: string;
  let dbUrl: string | undefined;
  let server: ChildProcess | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-users-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
  });
  afterEach(async () => {
    await stopServe(server);
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the first admin with a one-time link, who enrols, signs in with TOTP, and is managed from the CLI', async () => {
    const common = { WEBASSET_DATA_DIR: join(dir, 'data'), WEBASSET_PUBLIC_URL: PUBLIC_URL, ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
    const started = await startServe({ ...process.env, PORT: '0', ...common }, dir);
    server = started.child;
    // The identity key file is created 0600 on first start.
    expect(statSync(join(dir, 'data', 'keys', 'identity.key')).mode & 0o777).toBe(0o600);

    // Embedded: the CLI finds the database locked by the server and runs the command through the admin socket.
    const created = await cli(['users', 'create', '--admin', '--username', 'Root', '--email', 'root@example.test', '--name', 'Root Admin'], common, dir);
    expect(created.stderr).toContain('Created user root (admin)');
    expect(created.code).toBe(0);
    const link = created.stdout.trim();
    expect(link).toMatch(new RegExp(`^${PUBLIC_URL.replaceAll('.', '\\.')}/enrol\\?token=[A-Za-z0-9_-]{43}$`));
    const token = new URL(link).searchParams.get('token')!;

    // A second create of the same name is refused.
    const again = await cli(['users', 'create', '--admin', '--username', 'root'], common, dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('user_exists');

    const b = new Browser(started.url);
    const state = await b.call('GET', `/api/auth/enrolment/${token}`);
    expect(state.body).toMatchObject({ username: 'root', purpose: 'enrol', passwordStep: true, totpStep: true });
    const weak = await b.call('POST', `/api/auth/enrolment/${token}/password`, { password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(weak.body.error?.code).toBe('password_rejected');
    expect(weak.body.error?.details).toEqual([expect.objectContaining({ code: 'common' })]);
    expect((await b.call('POST', `/api/auth/enrolment/${token}/password`, { password: PASSWORD })).body).toMatchObject({ done: false, totpStep: true });
    // The password step cannot be repeated through the same link.
    expect((await b.call('POST', `/api/auth/enrolment/${token}/password`, { password: 'another long passphrase' })).status).toBe(400);
    const start = await b.call('POST', `/api/auth/enrolment/${token}/totp/start`);
    const secret = start.body.secret as string;
    expect(start.body.otpauthUri).toContain(`secret=${secret}`);
    const now = Date.now();
    const confirm = await b.call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: codeAt(secret, now) });
    expect(confirm.status).toBe(200);
    expect(confirm.body.recoveryCodes).toHaveLength(10);
    // Used up.
    expect((await b.call('GET', `/api/auth/enrolment/${token}`)).body.error?.code).toBe('enrolment_link_invalid');

    const login = new Browser(started.url);
    expect((await login.call('POST', '/api/auth/login', { username: 'root', password: PASSWORD })).body).toEqual({ signedIn: false, mfaRequired: true });
    const signedIn = await login.call('POST', '/api/auth/login/mfa', { code: codeAt(secret, now + 30_000) });
    expect(signedIn.body).toMatchObject({ signedIn: true, mfa: true, user: { username: 'root', roles: ['admin'] } });
    expect((await login.call('GET', '/api/auth/session')).status).toBe(200);

    const listed = await cli(['users', 'list'], common, dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/\troot\tadmin\tactive,mfa\tlocal\troot@example\.test\t/);

    // The only admin cannot be disabled.
    const lastAdmin = await cli(['users', 'disable', 'root'], common, dir);
    expect(lastAdmin.code).toBe(1);
    expect(lastAdmin.stderr).toContain('last_admin');

    // Reset MFA: the session ends at once, and a new link is printed.
    const reset = await cli(['users', 'reset-mfa', 'root'], common, dir);
    expect(reset.code).toBe(0);
    expect(reset.stdout.trim()).toMatch(/\/enrol\?token=[A-Za-z0-9_-]{43}$/);
    expect((await login.call('GET', '/api/auth/session')).status).toBe(401);
    expect((await new Browser(started.url).call('GET', `/api/auth/enrolment/${new URL(reset.stdout.trim()).searchParams.get('token')}`)).body).toMatchObject({
      purpose: 'reset_mfa',
      passwordStep: false,
      totpStep: true,
    });

    const operator = await cli(['users', 'create', '--role', 'operator', '--username', 'olga'], common, dir);
    expect(operator.code).toBe(0);
    const disabled = await cli(['users', 'disable', 'olga', '--reason', 'left'], common, dir);
    expect(disabled.code).toBe(0);
    expect((await cli(['users', 'list'], common, dir)).stdout).not.toContain('olga');
    expect((await cli(['users', 'list', '--all'], common, dir)).stdout).toMatch(/\tolga\toperator\tdisabled,no-mfa\t/);
    expect((await cli(['users', 'enable', 'olga'], common, dir)).stdout).toContain('enabled olga');
    const relinked = await cli(['users', 'enrolment-link', 'olga'], common, dir);
    expect(relinked.stdout.trim()).toMatch(/\/enrol\?token=[A-Za-z0-9_-]{43}$/);
    // The first link of olga stopped working when the new one was made.
    const firstOlga = new URL(operator.stdout.trim()).searchParams.get('token')!;
    expect((await b.call('GET', `/api/auth/enrolment/${firstOlga}`)).body.error?.code).toBe('enrolment_link_invalid');
    expect((await cli(['users', 'unlock', 'olga'], common, dir)).stdout).toContain('olga was not locked');
    expect((await cli(['users', 'disable', 'nobody'], common, dir)).code).toBe(2);
    expect((await cli(['users', 'create', '--username', 'x'], common, dir)).code).toBe(2);

    // Nothing secret reached the server's log.
    for (const secretValue of [PASSWORD, secret, token, ...(confirm.body.recoveryCodes as string[])]) expect(started.output()).not.toContain(secretValue);
  });
});
