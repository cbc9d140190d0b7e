import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, enrolLocalUser, type LocalUser } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The argon2 work itself is counted in test/identity/password-lockout-parallel.test.ts (the hasher's argon2 calls passed
// through a counter); here, on the real server, every password checked against the account is one `bad_password` record.
const THRESHOLD = 10;

describe('parallel password guesses from many client IPs stop at the account lockout', () => {
  let t: TestServer;
  let user: LocalUser;
  let ip = 1;
  const fresh = () => new Browser(t.url, { 'x-forwarded-for': `198.51.100.${ip++}` });

  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: 'loopback' });
    user = await enrolLocalUser(t, { username: 'lena', password: 'first passphrase, long enough', roles: ['operator'] });
    await enrolLocalUser(t, { username: 'otto', password: 'second passphrase, long enough', roles: ['operator'] });
    // An administrator must use a second factor: each right password opens a step that is then left unanswered.
    await enrolLocalUser(t, { username: 'mia', password: 'third passphrase, long enough', roles: ['admin'] });
  });
  afterAll(async () => t?.stop());

  it('40 wrong passwords at once: 10 are checked against the account (one bad_password record each), the rest refused as locked, and it ends locked', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh().call('POST', '/api/auth/login', { username: 'lena', password: `wrong guess ${i}xx` })));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(401));
    const locked = await fresh().call('POST', '/api/auth/login', { username: 'lena', password: user.password });
    expect(locked.status).toBe(401);
    await t.services.audit.trail.flush();
    const page = await t.services.audit.reader.search({ actionPrefix: 'auth.login.failed' }, { limit: 200, order: 'asc' });
    const details = page.events.map((e) => JSON.parse(e.details) as { reason: string; username?: string; locked?: boolean });
    const lena = details.filter((d) => d.username === 'lena');
    expect(lena.filter((d) => d.reason === 'bad_password')).toHaveLength(THRESHOLD);
    expect(lena.filter((d) => d.reason === 'locked')).toHaveLength(40 - THRESHOLD + 1);
    expect(lena.some((d) => d.reason === 'bad_password' && d.locked === true)).toBe(true);
  });

  it('10 right passwords in a row never lock the account, with or without a second factor left unanswered', async () => {
    for (let i = 0; i < THRESHOLD + 2; i++) {
      const answer = await fresh().call('POST', '/api/auth/login', { username: 'otto', password: 'second passphrase, long enough' });
      expect(answer.status, `sign-in ${i + 1}`).toBe(200);
      expect(answer.body).toMatchObject({ signedIn: true });
    }
    for (let i = 0; i < THRESHOLD + 2; i++) {
      const answer = await fresh().call('POST', '/api/auth/login', { username: 'mia', password: 'third passphrase, long enough' });
      expect(answer.status, `password step ${i + 1}`).toBe(200);
      expect(answer.body).toMatchObject({ signedIn: false, mfaRequired: true });
    }
    expect(await t.services.accounts.signIn.unlock('mia', { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true })).toBe(false);
  });
});
