import { describe, expect, it } from 'vitest';
import { ARGON2ID_MINIMUM, PASSWORD_MAX_LENGTH } from '../../src/identity/index.js';
import { useTestDatabase } from '../support/databases.js';
import { LOCKOUT_THRESHOLD, PASSWORD, setupSignIn } from './sign-in-fixtures.js';

// Timing is never asserted: the work is. Every answer of the password step must cost one argon2id verification of the
// same parameters and the same bounded input length, whether the account exists, is locked, or the password is too long.
describe('sign-in does the same work whether or not the account exists', () => {
  const fresh = useTestDatabase();
  const sameCost = { memoryCost: ARGON2ID_MINIMUM.memoryCost, timeCost: ARGON2ID_MINIMUM.timeCost, parallelism: ARGON2ID_MINIMUM.parallelism };

  it('one argon2 verification of equal cost for a known, an unknown and a locked account, with a short or an oversized password', async () => {
    const { signIn, lockout, ctx, argon2Calls, failures } = await setupSignIn(fresh);
    const long = 'x'.repeat(4096);
    const cases = [
      { username: 'ada', password: long },
      { username: 'nobody', password: long },
      { username: 'ada', password: 'wrong password' },
      { username: 'nobody', password: 'wrong password' },
      { username: 'ada', password: 'é'.repeat(PASSWORD_MAX_LENGTH + 1) },
    ];
    for (const input of cases) {
      argon2Calls.length = 0;
      await expect(signIn.password(input, ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
      expect(argon2Calls, `${input.username} / ${input.password.length} characters`).toHaveLength(1);
      expect(argon2Calls[0]).toMatchObject(sameCost);
      expect(argon2Calls[0]!.passwordLength).toBeLessThanOrEqual(PASSWORD_MAX_LENGTH);
    }
    // Locked: the lock is answered after the same verification.
    for (let i = 0; i < LOCKOUT_THRESHOLD; i++) await lockout.failed('ada');
    for (const password of [long, PASSWORD]) {
      argon2Calls.length = 0;
      await expect(signIn.password({ username: 'ada', password }, ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
      expect(argon2Calls).toHaveLength(1);
      expect(argon2Calls[0]).toMatchObject(sameCost);
    }
    expect((await failures()).map((f) => f.reason)).toEqual(['bad_password', 'unknown_user', 'bad_password', 'unknown_user', 'bad_password', 'locked', 'locked']);
  });

  it('an oversized password whose first 256 characters are the password is still refused', async () => {
    const { hasher, argon2Calls } = await setupSignIn(fresh);
    const longest = 'y'.repeat(PASSWORD_MAX_LENGTH);
    const stored = await hasher.hash(longest);
    expect(await hasher.verify(stored, longest)).toBe(true);
    argon2Calls.length = 0;
    expect(await hasher.verify(stored, `${longest}y`)).toBe(false);
    expect(await hasher.verifyUnknownAccount(`${longest}y`)).toBe(false);
    expect(argon2Calls.map((c) => c.passwordLength)).toEqual([PASSWORD_MAX_LENGTH, PASSWORD_MAX_LENGTH]);
  });
});
