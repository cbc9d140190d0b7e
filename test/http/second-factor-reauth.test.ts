import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, codeAt, enrolLocalUser, type LocalUser } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';

const STEP = 30_000;
const THRESHOLD = 10;
const IP_FAILURE_LIMIT = 15;

async function auditRows(t: TestServer, prefix: string) {
  await t.services.audit.trail.flush();
  const page = await t.services.audit.reader.search({ actionPrefix: prefix }, { limit: 1000, order: 'asc' });
  return page.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
}

/** A TOTP code that is not `secret`'s at `now` nor in the window around it. */
function wrongCode(secret: string, now: number, i: number): string {
  const near = new Set([-1, 0, 1].map((k) => codeAt(secret, now + k * STEP)));
  let code = String(100_000 + i);
  while (near.has(code)) code = String(Number(code) + 1);
  return code;
}

// A signed-in user asked for their second factor again (new recovery codes): a stolen session guessing it is counted,
// recorded, reported and locked out exactly like guessing it at sign-in.
describe('second factor asked of a signed-in user', () => {
  let t: TestServer;
  let now = Date.UTC(2026, 6, 1, 9, 0, 0);
  const clock = { now: () => now };
  let ipCounter = 10;

  beforeAll(async () => {
    t = await startTestServer(
      { WEBASSET_SIGNIN_IP_LIMIT: '100000', WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32', WEBASSET_AUTH_FAILURE_LIMIT: String(IP_FAILURE_LIMIT) },
      { clock },
    );
  });
  afterAll(async () => t?.stop());

  async function signedIn(username: string): Promise<{ user: LocalUser; b: Browser; ip: string }> {
    const user = await enrolLocalUser(t, { username, password: 'correct horse battery staple 7', roles: ['operator'], mfaRequired: true, totpAt: now });
    now += 2 * STEP;
    const ip = `198.51.100.${ipCounter++}`;
    const b = new Browser(t.url, { 'x-forwarded-for': ip });
    expect((await b.call('POST', '/api/auth/login', { username, password: user.password })).status).toBe(200);
    expect((await b.call('POST', '/api/auth/login/mfa', { code: codeAt(user.secret!, now) })).status).toBe(200);
    now += 2 * STEP;
    return { user, b, ip };
  }

  it('a wrong code is recorded, reported, counted toward the lockout; locked, even the right code is refused, and so is sign-in', async () => {
    const { user, b } = await signedIn('rita');
    for (let i = 1; i <= THRESHOLD; i++) {
      const res = await b.call('POST', '/api/auth/mfa/recovery-codes', { code: wrongCode(user.secret!, now, i) });
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('invalid_credentials');
    }
    const failed = (await auditRows(t, 'auth.login.failed')).filter((e) => e.details.username === 'rita');
    expect(failed.map((e) => e.details)).toEqual(
      Array.from({ length: THRESHOLD }, (_, i) => ({ username: 'rita', reason: 'bad_totp', purpose: 'recovery_codes', failures: i + 1, locked: i + 1 === THRESHOLD })),
    );
    expect(failed[0]).toMatchObject({ actorId: user.id, targetId: user.id, outcome: 'failure' });
    // The brute-force alert fires for the account, once per burst.
    const alerts = (await auditRows(t, 'alert.raised')).filter((e) => (e.details.subject as { id?: string }).id === 'rita');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.details).toMatchObject({ kind: 'brute_force', subject: { kind: 'account', id: 'rita' } });

    const locked = await b.call('POST', '/api/auth/mfa/recovery-codes', { code: codeAt(user.secret!, now) });
    expect(locked.status).toBe(401);
    expect(locked.body.error?.code).toBe('invalid_credentials');
    expect((await auditRows(t, 'auth.login.failed')).at(-1)?.details).toMatchObject({ username: 'rita', reason: 'locked', purpose: 'recovery_codes' });
    expect(await auditRows(t, 'user.recovery_codes.regenerated')).toHaveLength(0);
    const other = new Browser(t.url, { 'x-forwarded-for': `198.51.100.${ipCounter++}` });
    const signIn = await other.call('POST', '/api/auth/login', { username: 'rita', password: user.password });
    expect(signIn.status).toBe(401);
    expect(signIn.body.error?.code).toBe('invalid_credentials');
    expect((await auditRows(t, 'auth.login.failed')).at(-1)?.details).toMatchObject({ username: 'rita', reason: 'locked' });
  });

  it('wrong codes count toward the client IP failure limit: past it, 429', async () => {
    const { user, b } = await signedIn('ivan');
    const statuses: number[] = [];
    for (let i = 1; i <= IP_FAILURE_LIMIT + 1; i++) statuses.push((await b.call('POST', '/api/auth/mfa/recovery-codes', { code: wrongCode(user.secret!, now, i) })).status);
    expect(statuses.slice(0, IP_FAILURE_LIMIT)).toEqual(Array(IP_FAILURE_LIMIT).fill(401));
    expect(statuses.at(-1)).toBe(429);
    // Blocked: nothing more is checked from that IP.
    const before = (await auditRows(t, 'auth.login.failed')).length;
    expect((await b.call('POST', '/api/auth/mfa/recovery-codes', { code: codeAt(user.secret!, now) })).status).toBe(429);
    expect(await auditRows(t, 'auth.login.failed')).toHaveLength(before);
  });

  it('parallel wrong codes: no more are checked than the lockout allows', async () => {
    const { user, b } = await signedIn('pat');
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => b.call('POST', '/api/auth/mfa/recovery-codes', { code: wrongCode(user.secret!, now, i) })));
    expect(answers.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    const failed = (await auditRows(t, 'auth.login.failed')).filter((e) => e.details.username === 'pat');
    expect(failed.filter((e) => e.details.reason === 'bad_totp')).toHaveLength(THRESHOLD);
    expect(failed.filter((e) => e.details.reason !== 'bad_totp').every((e) => e.details.reason === 'locked')).toBe(true);
  });

  it('the right code gives new recovery codes and forgets the failures before it', async () => {
    const { user, b } = await signedIn('nora');
    expect((await b.call('POST', '/api/auth/mfa/recovery-codes', { code: wrongCode(user.secret!, now, 1) })).status).toBe(401);
    const ok = await b.call('POST', '/api/auth/mfa/recovery-codes', { code: codeAt(user.secret!, now) });
    expect(ok.status).toBe(200);
    expect(ok.body.recoveryCodes).toHaveLength(10);
    now += STEP;
    expect((await b.call('POST', '/api/auth/mfa/recovery-codes', { code: wrongCode(user.secret!, now, 2) })).status).toBe(401);
    expect((await auditRows(t, 'auth.login.failed')).at(-1)?.details).toMatchObject({ username: 'nora', reason: 'bad_totp', failures: 1 });
  });
});
