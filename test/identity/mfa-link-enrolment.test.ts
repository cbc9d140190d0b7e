import { describe, expect, it } from 'vitest';
import { base32Decode, totp, type Principal } from '../../src/identity/index.js';
import { useTestDatabase } from '../support/databases.js';
import { PASSWORD, setupSignIn } from './sign-in-fixtures.js';

// After an administrator resets a user's second factor, whoever knows the password must not be the one who enrols the
// next: the one-time link does. Without a reset, a user who must use MFA still enrols at sign-in as before.

const admin: Principal = { kind: 'user', id: 'cli-admin', name: 'CLI admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

describe('enrolling a second factor after a reset', () => {
  const fresh = useTestDatabase();

  it('refuses the password alone (like a wrong one, the reason recorded) until the link has enrolled a new factor', async () => {
    const { signIn, users, mfa, user, ctx, failures, reported, clock, db, hasher } = await setupSignIn(fresh);
    const credentials = { username: 'ada', password: PASSWORD };
    expect((await signIn.password(credentials, ctx)).kind).toBe('mfa');

    await users.resetMfa(user.id, admin);
    await expect(signIn.password(credentials, ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect((await failures()).at(-1)).toMatchObject({ reason: 'mfa_link_pending', username: 'ada' });
    // A failure like any other: it counts toward the lockout and the brute-force alert.
    expect(reported).toContain('ada');

    // Someone who was never reset and must use MFA still enrols at sign-in.
    const bob = await users.create({ username: 'bob', roles: ['auditor'], source: 'local' }, admin);
    await db.updateTable('users').set({ password_hash: await hasher.hash(PASSWORD) }).where('id', '=', bob.id).execute();
    expect((await signIn.password({ username: 'bob', password: PASSWORD }, ctx)).kind).toBe('enrol');

    // The link's TOTP step (the calls the enrolment routes make) enrols a new factor; then the password leads to it.
    clock.advance(30_000);
    const { secret } = await mfa.startTotp(user.id);
    expect(await mfa.confirmTotp(user.id, totp(base32Decode(secret), clock.now()), 'enrolment_link')).not.toBeNull();
    expect((await signIn.password(credentials, ctx)).kind).toBe('mfa');
  });
});
