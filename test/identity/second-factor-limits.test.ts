import { describe, expect, it } from 'vitest';
import { PRE_AUTH_MAX_ATTEMPTS } from '../../src/identity/index.js';
import { useTestDatabase } from '../support/databases.js';
import { TEST_REDIS_URL } from '../support/server.js';
import { LOCKOUT_THRESHOLD, PASSWORD, setupSignIn } from './sign-in-fixtures.js';

type Setup = Awaited<ReturnType<typeof setupSignIn>>;

async function preAuth({ signIn, ctx }: Setup): Promise<string> {
  const step = await signIn.password({ username: 'ada', password: PASSWORD }, ctx);
  expect(step.kind).toBe('mfa');
  return (step as { preAuthId: string }).preAuthId;
}

/** Wrong codes, none of them the current one. */
function wrongCodes(setup: Setup, count: number): string[] {
  const good = setup.currentCode();
  return Array.from({ length: count }, (_, i) => String(100_000 + i)).map((c) => (c === good ? '099999' : c));
}

describe('second-factor limits hold against parallel guesses', () => {
  const fresh = useTestDatabase();

  it('checks at most PRE_AUTH_MAX_ATTEMPTS codes of one pre-auth step, however many arrive at once', async () => {
    const setup = await setupSignIn(fresh);
    const id = await preAuth(setup);
    const answers = await Promise.allSettled(wrongCodes(setup, 60).map((code) => setup.signIn.secondFactor(id, { code }, setup.ctx)));
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    expect(setup.codesChecked.count).toBe(PRE_AUTH_MAX_ATTEMPTS);
    const reasons = (await setup.failures()).map((f) => f.reason);
    expect(reasons.filter((r) => r === 'bad_totp')).toHaveLength(PRE_AUTH_MAX_ATTEMPTS);
    // The others found the step used up (or already ended by then): each is recorded, none is checked or counted.
    expect(reasons.filter((r) => r === 'login_expired')).toHaveLength(60 - PRE_AUTH_MAX_ATTEMPTS);
    expect(setup.reported).toEqual(Array(PRE_AUTH_MAX_ATTEMPTS).fill('ada'));
    // The step is used up: even the right code now needs the password again.
    await expect(setup.signIn.secondFactor(id, { code: setup.currentCode() }, setup.ctx)).rejects.toMatchObject({ code: 'login_expired' });
  });

  it('checks at most the lockout threshold of codes across parallel pre-auth steps, then the account is locked', async () => {
    const setup = await setupSignIn(fresh);
    const steps = [await preAuth(setup), await preAuth(setup), await preAuth(setup)];
    const codes = wrongCodes(setup, 20);
    await Promise.allSettled(steps.flatMap((id) => codes.map((code) => setup.signIn.secondFactor(id, { code }, setup.ctx))));
    expect(setup.codesChecked.count).toBe(LOCKOUT_THRESHOLD);
    const failures = await setup.failures();
    expect(failures.filter((f) => f.reason === 'bad_totp')).toHaveLength(LOCKOUT_THRESHOLD);
    // Each step let PRE_AUTH_MAX_ATTEMPTS through to the lockout: the ones past its threshold were refused as locked, unchecked.
    expect(failures.filter((f) => f.reason === 'locked')).toHaveLength(3 * PRE_AUTH_MAX_ATTEMPTS - LOCKOUT_THRESHOLD);
    expect(failures.filter((f) => f.reason === 'bad_totp').map((f) => f.failures).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: LOCKOUT_THRESHOLD }, (_, i) => i + 1),
    );
    expect(await setup.lockout.lockedFor('ada')).toBeGreaterThan(0);
    // Locked: the right password and the right code are refused too.
    setup.codesChecked.count = 0;
    await expect(setup.signIn.password({ username: 'ada', password: PASSWORD }, setup.ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(setup.codesChecked.count).toBe(0);
  });

  it('a completed sign-in forgets the failures before it, and so does an unlock', async () => {
    const setup = await setupSignIn(fresh);
    const { signIn, ctx } = setup;
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) await expect(signIn.password({ username: 'ada', password: 'wrong password' }, ctx)).rejects.toThrow();
    const id = await preAuth(setup);
    await expect(signIn.secondFactor(id, { code: setup.currentCode() }, ctx)).resolves.toMatchObject({ mfa: true });
    // Had they still counted, the next failure would lock the account.
    await expect(signIn.password({ username: 'ada', password: 'wrong password' }, ctx)).rejects.toThrow();
    expect((await setup.failures()).at(-1)).toMatchObject({ reason: 'bad_password', failures: 1, locked: false });
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) await expect(signIn.password({ username: 'ada', password: 'wrong password' }, ctx)).rejects.toThrow();
    expect((await setup.failures()).at(-1)).toMatchObject({ failures: LOCKOUT_THRESHOLD, locked: true });
    expect(await signIn.unlock('ada', { kind: 'user', id: 'cli-admin', name: 'CLI admin', roles: ['admin'], groups: [], via: 'cli', mfa: true })).toBe(true);
    await expect(signIn.password({ username: 'ada', password: 'wrong password' }, ctx)).rejects.toThrow();
    expect((await setup.failures()).at(-1)).toMatchObject({ reason: 'bad_password', failures: 1, locked: false });
  });

  // Redis expires its counters on its own clock; the manual clock moves the in-process state only.
  it.skipIf(TEST_REDIS_URL)('the new count after a sign-in lasts as long as its counter, not as long as the sign-in that started it', async () => {
    const setup = await setupSignIn(fresh);
    const { signIn, ctx, clock } = setup;
    const wrong = () => expect(signIn.password({ username: 'ada', password: 'wrong password' }, ctx)).rejects.toThrow();
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) await wrong();
    const id = await preAuth(setup);
    await signIn.secondFactor(id, { code: setup.currentCode() }, ctx);
    clock.advance(20 * 60_000);
    await wrong();
    // 35 minutes after the sign-in, 15 after the first new failure: the new count still runs.
    clock.advance(15 * 60_000);
    for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++) await wrong();
    expect((await setup.failures()).at(-1)).toMatchObject({ failures: LOCKOUT_THRESHOLD, locked: true });
  });
});
