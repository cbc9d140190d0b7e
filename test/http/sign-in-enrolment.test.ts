import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, codeAt, tokenOf, TEST_ADMIN } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';

const STEP = 30_000;

describe('enrolment links and one\'s own MFA', () => {
  let t: TestServer;
  let now = Date.UTC(2026, 6, 1, 12, 0, 0);
  const clock = { now: () => now };
  let ip = 1;
  const browser = () => new Browser(t.url, { 'x-forwarded-for': `198.18.0.${ip++}` });
  const all: Browser[] = [];
  const tracked = () => {
    const b = browser();
    all.push(b);
    return b;
  };

  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_SIGNIN_IP_LIMIT: '100000', WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32', WEBASSET_MFA_REQUIRED_ROLES: 'auditor' }, { clock });
  });
  afterAll(async () => t.stop());

  it('answers the same for an unknown, malformed, used and expired link', async () => {
    const u = await t.services.users.create({ username: 'ulla', roles: ['operator'], source: 'local' }, TEST_ADMIN);
    const expired = tokenOf((await t.services.users.createEnrolmentLink(u.id, 'enrol', TEST_ADMIN)).url);
    now += 48 * 3_600_000 + 1;
    const live = tokenOf((await t.services.users.createEnrolmentLink(u.id, 'enrol', TEST_ADMIN)).url);
    const b = browser();
    expect((await b.call('POST', `/api/auth/enrolment/${live}/password`, { password: 'she has a fine passphrase' })).body).toEqual({ done: true });
    const shapes = new Set<string>();
    for (const token of [expired, live, 'A'.repeat(43), 'short', "x'; DROP TABLE users;--"]) {
      const res = await b.call('GET', `/api/auth/enrolment/${encodeURIComponent(token)}`);
      shapes.add(JSON.stringify({ status: res.status, code: res.body.error?.code, message: res.body.error?.message }));
    }
    expect([...shapes]).toEqual([JSON.stringify({ status: 404, code: 'enrolment_link_invalid', message: 'This enrolment link is invalid, expired or already used.' })]);
    // The used link cannot set the password again.
    expect((await b.call('POST', `/api/auth/enrolment/${live}/password`, { password: 'someone else passphrase' })).status).toBe(404);
    expect((await b.call('POST', '/api/auth/login', { username: 'ulla', password: 'she has a fine passphrase' })).body).toMatchObject({ signedIn: true, mfa: false });
  });

  it('checks the password policy at the route and changes nothing on refusal', async () => {
    const u = await t.services.users.create({ username: 'pete', email: 'peter.parker@example.test', roles: ['operator'], source: 'local' }, TEST_ADMIN);
    const token = tokenOf((await t.services.users.createEnrolmentLink(u.id, 'enrol', TEST_ADMIN)).url);
    const b = browser();
    const cases: Array<[string, string]> = [
      ['short pw', 'too_short'],
      ['password1234', 'common'],
      ['my name is pete, hello', 'contains_username'],
      ['peter.parker is my hero', 'contains_email'],
      ['x'.repeat(300), 'too_long'],
    ];
    for (const [password, code] of cases) {
      const res = await b.call('POST', `/api/auth/enrolment/${token}/password`, { password });
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe('password_rejected');
      expect((res.body.error?.details as Array<{ code: string }>).map((d) => d.code)).toContain(code);
      expect(res.text).not.toContain(password);
    }
    const row = await t.services.database.db.selectFrom('users').select('password_hash').where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    expect((await b.call('GET', `/api/auth/enrolment/${token}`)).body).toMatchObject({ passwordStep: true });
  });

  it('an auditor (by WEBASSET_MFA_REQUIRED_ROLES and always) must finish TOTP before the link is used up', async () => {
    const u = await t.services.users.create({ username: 'audrey', roles: ['auditor'], source: 'local' }, TEST_ADMIN);
    const token = tokenOf((await t.services.users.createEnrolmentLink(u.id, 'enrol', TEST_ADMIN)).url);
    const b = tracked();
    expect((await b.call('POST', `/api/auth/enrolment/${token}/totp/start`)).status).toBe(400);
    expect((await b.call('POST', `/api/auth/enrolment/${token}/password`, { password: 'she checks everything twice' })).body).toMatchObject({ done: false, totpStep: true });
    const start = await b.call('POST', `/api/auth/enrolment/${token}/totp/start`);
    const secret = start.body.secret as string;
    expect((await b.call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: '12ab56' })).status).toBe(400);
    const confirm = await b.call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: codeAt(secret, now) });
    const codes = confirm.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect((await b.call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: codeAt(secret, now) })).status).toBe(404);

    now += 2 * STEP;
    const s = tracked();
    await s.call('POST', '/api/auth/login', { username: 'audrey', password: 'she checks everything twice' });
    expect((await s.call('POST', '/api/auth/login/mfa', { code: codeAt(secret, now) })).body).toMatchObject({ signedIn: true, mfa: true });

    // Canaries: the seed appears only in the answer that shows it, the codes only in theirs, the token and password in none.
    const answers = all.flatMap((x) => x.answers);
    const containing = (value: string) => answers.filter((a) => a.includes(value)).length;
    expect(containing(secret)).toBe(1);
    for (const c of codes) expect(containing(c)).toBe(1);
    expect(containing(token)).toBe(0);
    expect(containing('she checks everything twice')).toBe(0);
    await t.services.audit.trail.flush();
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(t.services.database.db);
    const trail = rows.map((r) => r.row).join('\n');
    for (const value of [secret, token, 'she checks everything twice', ...codes]) expect(trail).not.toContain(value);
    const logs = t.logs.text();
    for (const value of [secret, token, 'she checks everything twice', ...codes]) expect(logs).not.toContain(value);
  });

  it('a signed-in user enrols TOTP, replaces recovery codes with a current code, and needs MFA from then on', async () => {
    const u = await t.services.users.create({ username: 'otis', roles: ['operator'], source: 'local' }, TEST_ADMIN);
    const token = tokenOf((await t.services.users.createEnrolmentLink(u.id, 'enrol', TEST_ADMIN)).url);
    const b = browser();
    await b.call('POST', `/api/auth/enrolment/${token}/password`, { password: 'he rides the elevator daily' });
    expect((await b.call('POST', '/api/auth/login', { username: 'otis', password: 'he rides the elevator daily' })).body).toMatchObject({ signedIn: true });
    // Without the CSRF token a cookie request that changes state is refused.
    const csrf = b.csrf;
    b.csrf = undefined;
    expect((await b.call('POST', '/api/auth/mfa/totp/start')).body.error?.code).toBe('csrf_failed');
    b.csrf = csrf;
    const start = await b.call('POST', '/api/auth/mfa/totp/start');
    expect(start.status).toBe(200);
    const secret = start.body.secret as string;
    expect((await b.call('POST', '/api/auth/mfa/totp/confirm', { code: '000000' })).status).toBe(400);
    const confirm = await b.call('POST', '/api/auth/mfa/totp/confirm', { code: codeAt(secret, now) });
    expect(confirm.body.recoveryCodes).toHaveLength(10);
    expect((await b.call('POST', '/api/auth/mfa/totp/start')).body.error?.code).toBe('mfa_already_enrolled');
    // The code just used cannot buy new recovery codes; the next one can.
    expect((await b.call('POST', '/api/auth/mfa/recovery-codes', { code: codeAt(secret, now) })).body.error?.code).toBe('invalid_credentials');
    now += STEP;
    const regenerated = await b.call('POST', '/api/auth/mfa/recovery-codes', { code: codeAt(secret, now) });
    expect(regenerated.body.recoveryCodes).toHaveLength(10);
    expect(regenerated.body.recoveryCodes).not.toEqual(confirm.body.recoveryCodes);

    const again = browser();
    expect((await again.call('POST', '/api/auth/login', { username: 'otis', password: 'he rides the elevator daily' })).body).toEqual({ signedIn: false, mfaRequired: true });
    const old = (confirm.body.recoveryCodes as string[])[0]!;
    expect((await again.call('POST', '/api/auth/login/mfa', { recoveryCode: old })).status).toBe(401);
    const fresh = (regenerated.body.recoveryCodes as string[])[0]!;
    expect((await again.call('POST', '/api/auth/login/mfa', { recoveryCode: fresh })).body).toMatchObject({ signedIn: true, mfa: true });
  });

  it('an API token cannot manage anyone\'s MFA', async () => {
    const token = await t.token('admin');
    const res = await fetch(`${t.url}/api/auth/mfa/totp/start`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
  });
});
