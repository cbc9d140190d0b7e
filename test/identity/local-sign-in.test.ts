import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMemoryState, createRedisState, type SharedState } from '../../src/cluster/index.js';
import { randomIds } from '../../src/core/index.js';
import {
  base32Decode,
  createDatabaseSessionStore,
  createIdentityKey,
  createLocalSignIn,
  createLockout,
  createMfa,
  createPasswordHasher,
  createUsers,
  createWebSessions,
  PRE_AUTH_MAX_ATTEMPTS,
  totp,
  type Principal,
} from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { TEST_REDIS_URL } from '../support/server.js';

const admin: Principal = { kind: 'user', id: 'cli-admin', name: 'CLI admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
const KEY = randomBytes(32).toString('base64');

describe('identity key', () => {
  it('opens what it sealed for the same owner only, and refuses altered values and other keys', () => {
    const key = createIdentityKey(KEY);
    const sealed = key.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'user-1');
    expect(sealed).not.toContain('JBSWY3DP');
    expect(sealed.startsWith(`v1.${key.keyId}.`)).toBe(true);
    expect(key.open(sealed, 'user-1')).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    expect(key.seal('same', 'user-1')).not.toBe(key.seal('same', 'user-1'));
    expect(() => key.open(sealed, 'user-2')).toThrow(expect.objectContaining({ code: 'internal' }) as Error);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    expect(() => key.open([...parts.slice(0, 3), body.toString('base64url')].join('.'), 'user-1')).toThrow();
    expect(() => createIdentityKey(randomBytes(32).toString('base64')).open(sealed, 'user-1')).toThrow(/another identity key/);
    expect(() => createIdentityKey(Buffer.alloc(16).toString('base64'))).toThrow();
  });
});

describe('local sign-in (repository level)', () => {
  const fresh = useTestDatabase();

  async function setup() {
    let now = Date.UTC(2026, 2, 1, 8, 0, 0);
    const clock = { now: () => now, advance: (ms: number) => (now += ms) };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    let state: SharedState;
    if (TEST_REDIS_URL) state = await createRedisState({ url: TEST_REDIS_URL, keyPrefix: `wa-test-${randomIds.token(8)}:` });
    else state = createMemoryState({ clock });
    fresh.defer(() => state.close());
    const db = fresh.db.database.db;
    const sessions = createWebSessions({ store: createDatabaseSessionStore({ db }), trail: audit.trail, clock, ids: randomIds, sweepIntervalMs: 0 });
    fresh.defer(() => sessions.close());
    const users = createUsers({ db, trail: audit.trail, clock, ids: randomIds, sessions, publicUrl: 'http://localhost:8080' });
    const mfa = createMfa({ db, trail: audit.trail, clock, key: createIdentityKey(KEY) });
    const hasher = createPasswordHasher();
    const lockout = createLockout({ state, clock, threshold: 10, lockoutMs: 30 * 60_000 });
    const failures: string[] = [];
    const signIn = createLocalSignIn({
      db,
      trail: audit.trail,
      clock,
      ids: randomIds,
      state,
      users,
      mfa,
      hasher,
      lockout,
      sessions,
      ipLimit: 1000,
      mfaRequiredRoles: ['admin', 'auditor'],
      detect: { signInFailed: async ({ account }) => void failures.push(account) },
    });
    const user = await users.create({ username: 'ada', roles: ['admin'], source: 'local' }, admin);
    await db.updateTable('users').set({ password_hash: await hasher.hash('a good long passphrase') }).where('id', '=', user.id).execute();
    const { secret } = await mfa.startTotp(user.id);
    const codes = (await mfa.confirmTotp(user.id, totp(base32Decode(secret), now), 'session'))!;
    const ctx = { sourceIp: '192.0.2.10', requestId: 'r1' };
    return { clock, db, signIn, mfa, user, secret, codes, ctx, failures, audit };
  }

  it('stores the TOTP seed sealed and accepts one code once even when two requests race', async () => {
    const { clock, db, mfa, user, secret } = await setup();
    const row = await db.selectFrom('users').select(['totp_secret_sealed']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.totp_secret_sealed).not.toContain(secret);
    clock.advance(30_000);
    const code = totp(base32Decode(secret), clock.now());
    const results = await Promise.all(Array.from({ length: 5 }, () => mfa.verify(user.id, { code })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? null : r.reason))).toEqual(Array(4).fill('totp_replayed'));
    // An older code of the window is refused once a newer one was used.
    expect(await mfa.verify(user.id, { code: totp(base32Decode(secret), clock.now() - 30_000) })).toEqual({ ok: false, reason: 'totp_replayed' });
  });

  it('uses a recovery code once even when two requests race, and regeneration retires the old ones', async () => {
    const { mfa, user, codes, db } = await setup();
    const results = await Promise.all([mfa.verify(user.id, { recoveryCode: codes[3] }), mfa.verify(user.id, { recoveryCode: codes[3] })]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const stored = await db.selectFrom('user_recovery_codes').select('code_hash').execute();
    expect(stored.map((r) => r.code_hash).join()).not.toContain(codes[0]!.replaceAll('-', ''));
    const fresh = await mfa.regenerateRecoveryCodes(user.id);
    expect(fresh).toHaveLength(10);
    expect((await mfa.verify(user.id, { recoveryCode: codes[0] })).ok).toBe(false);
    expect((await mfa.verify(user.id, { recoveryCode: fresh[0] })).ok).toBe(true);
  });

  it('ends the MFA step after a few wrong codes, counts them toward the lockout and reports them', async () => {
    const { signIn, ctx, failures } = await setup();
    const first = await signIn.password({ username: 'ada', password: 'a good long passphrase' }, ctx);
    expect(first.kind).toBe('mfa');
    const id = (first as { preAuthId: string }).preAuthId;
    for (let i = 0; i < PRE_AUTH_MAX_ATTEMPTS; i++) await expect(signIn.secondFactor(id, { code: '000000' }, ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
    await expect(signIn.secondFactor(id, { code: '000000' }, ctx)).rejects.toMatchObject({ code: 'login_expired' });
    expect(failures).toEqual(Array(PRE_AUTH_MAX_ATTEMPTS).fill('ada'));
  });

  it('a pre-auth step expires after 5 minutes', async () => {
    const { signIn, ctx, clock, secret } = await setup();
    const first = (await signIn.password({ username: 'ada', password: 'a good long passphrase' }, ctx)) as { preAuthId: string };
    clock.advance(5 * 60_000 + 1);
    await expect(signIn.secondFactor(first.preAuthId, { code: totp(base32Decode(secret), clock.now()) }, ctx)).rejects.toMatchObject({ code: 'login_expired' });
  });

  it('never records the typed name of an unknown account, only its hash', async () => {
    const { signIn, ctx, audit, failures } = await setup();
    const typedPassword = 'my-secret-password-in-the-wrong-field';
    await expect(signIn.password({ username: typedPassword, password: 'x' }, ctx)).rejects.toMatchObject({ code: 'invalid_credentials' });
    await audit.trail.flush();
    const page = await audit.reader.search({ actionPrefix: 'auth.login.failed' }, { limit: 10, order: 'asc' });
    expect(JSON.stringify(page.events)).not.toContain(typedPassword);
    expect(JSON.parse(page.events[0]!.details)).toMatchObject({ reason: 'unknown_user', usernameSha256: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(failures.join()).not.toContain(typedPassword);
  });
});
