import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/databases.js';
import { LOCKOUT_THRESHOLD, PASSWORD, setupSignIn } from './sign-in-fixtures.js';

type Setup = Awaited<ReturnType<typeof setupSignIn>>;

/** Verifications against ada's own hash (a refused attempt costs one against the hasher's dummy hash instead). */
async function adaVerifications(setup: Setup): Promise<number> {
  const row = await setup.db.selectFrom('users').select('password_hash').where('username', '=', 'ada').executeTakeFirstOrThrow();
  return setup.argon2Calls.filter((c) => c.hashed === row.password_hash).length;
}

// Each guess from its own client IP: the per-IP limit does not hold them, only the account lockout does.
const fromIp = (setup: Setup, i: number) => ({ ...setup.ctx, sourceIp: `198.51.100.${i + 1}`, requestId: `r${i}` });

describe('the password step counts a guess before it checks it', () => {
  const fresh = useTestDatabase();

  it('40 wrong passwords at once for one account: at most the threshold are verified against its hash, and it ends locked', async () => {
    const setup = await setupSignIn(fresh);
    setup.argon2Calls.length = 0;
    const answers = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => setup.signIn.password({ username: 'ada', password: `wrong guess ${i}` }, fromIp(setup, i))));
    expect(answers.every((a) => a.status === 'rejected' && (a.reason as { code?: string }).code === 'invalid_credentials')).toBe(true);
    expect(await adaVerifications(setup)).toBeLessThanOrEqual(LOCKOUT_THRESHOLD);
    // Every answer still cost one verification of the same work.
    expect(setup.argon2Calls).toHaveLength(40);
    expect(await setup.lockout.lockedFor('ada')).toBeGreaterThan(0);
    const reasons = (await setup.failures()).map((f) => f.reason);
    expect(reasons.filter((r) => r === 'bad_password')).toHaveLength(LOCKOUT_THRESHOLD);
    expect(reasons.filter((r) => r === 'locked')).toHaveLength(40 - LOCKOUT_THRESHOLD);
    // Locked: even the right password is refused, and not checked against the account's hash.
    setup.argon2Calls.length = 0;
    await expect(setup.signIn.password({ username: 'ada', password: PASSWORD }, fromIp(setup, 50))).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(await adaVerifications(setup)).toBe(0);
    expect(setup.argon2Calls).toHaveLength(1);
  });

  it('the same for an account that does not exist: it ends locked after the threshold', async () => {
    const setup = await setupSignIn(fresh);
    await Promise.allSettled(Array.from({ length: 40 }, (_, i) => setup.signIn.password({ username: 'nobody', password: `wrong guess ${i}` }, fromIp(setup, i))));
    expect(await setup.lockout.lockedFor('nobody')).toBeGreaterThan(0);
    expect((await setup.failures()).filter((f) => f.reason === 'unknown_user')).toHaveLength(LOCKOUT_THRESHOLD);
  });

  it('right passwords never lock: the attempt is given back, and a second factor left unanswered is no failure', async () => {
    const setup = await setupSignIn(fresh);
    for (let i = 0; i < LOCKOUT_THRESHOLD + 2; i++) {
      // ada has TOTP: each right password opens a second-factor step that is then abandoned.
      expect((await setup.signIn.password({ username: 'ada', password: PASSWORD }, fromIp(setup, i))).kind).toBe('mfa');
    }
    expect(await setup.lockout.lockedFor('ada')).toBe(0);
    expect(await setup.failures()).toEqual([]);
    // Parallel right passwords too.
    const parallel = await Promise.all(Array.from({ length: LOCKOUT_THRESHOLD }, (_, i) => setup.signIn.password({ username: 'ada', password: PASSWORD }, fromIp(setup, 20 + i))));
    expect(parallel.every((p) => p.kind === 'mfa')).toBe(true);
    expect(await setup.lockout.lockedFor('ada')).toBe(0);
  });

  it('a right password does not forget the failures before it: the tenth failure still locks', async () => {
    const setup = await setupSignIn(fresh);
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) {
      await expect(setup.signIn.password({ username: 'ada', password: `wrong guess ${i}` }, fromIp(setup, i))).rejects.toMatchObject({ code: 'invalid_credentials' });
    }
    expect((await setup.signIn.password({ username: 'ada', password: PASSWORD }, fromIp(setup, 30))).kind).toBe('mfa');
    expect(await setup.lockout.lockedFor('ada')).toBe(0);
    await expect(setup.signIn.password({ username: 'ada', password: 'wrong guess 9' }, fromIp(setup, 31))).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(await setup.lockout.lockedFor('ada')).toBeGreaterThan(0);
    const last = (await setup.failures()).at(-1);
    expect(last).toMatchObject({ reason: 'bad_password', failures: LOCKOUT_THRESHOLD, locked: true });
  });

  it('wrong second-factor codes and right passwords in turn: the password does not reset the count of wrong codes', async () => {
    const setup = await setupSignIn(fresh);
    const good = setup.currentCode();
    let guess = 100_000;
    const wrongCode = () => {
      let code = String(guess++);
      if (code === good) code = String(guess++);
      return code;
    };
    for (let round = 0; round < 2; round++) {
      const step = await setup.signIn.password({ username: 'ada', password: PASSWORD }, fromIp(setup, round));
      const id = (step as { preAuthId: string }).preAuthId;
      for (let i = 0; i < LOCKOUT_THRESHOLD / 2; i++) {
        await expect(setup.signIn.secondFactor(id, { code: wrongCode() }, fromIp(setup, round))).rejects.toMatchObject({ code: 'invalid_credentials' });
      }
    }
    expect(await setup.lockout.lockedFor('ada')).toBeGreaterThan(0);
  });
});
