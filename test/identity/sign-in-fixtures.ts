import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, parseOptions, verify as argon2Verify } from '@node-rs/argon2';
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
  totp,
  type Mfa,
  type Principal,
} from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import type { useTestDatabase } from '../support/databases.js';
import { TEST_REDIS_URL } from '../support/server.js';

const admin: Principal = { kind: 'user', id: 'cli-admin', name: 'CLI admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
export const PASSWORD = 'a good long passphrase';
export const LOCKOUT_THRESHOLD = 10;

/** One argon2 verification the hasher ran: the cost parameters of the hash it checked against, and the input length. */
export interface Argon2Call {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  passwordLength: number;
  /** The PHC string it checked against (an account's, or the hasher's dummy one). */
  hashed: string;
}

/**
 * Local sign-in built from real parts (database, audit trail, shared state in-process or in Redis, argon2id), as the
 * app wires it. The argon2 calls are the library's, passed through a counter; `mfa` is the real one, passed through a
 * counter of the codes it checked.
 */
export async function setupSignIn(fresh: ReturnType<typeof useTestDatabase>) {
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
  const realMfa = createMfa({ db, trail: audit.trail, clock, key: createIdentityKey(randomBytes(32).toString('base64')) });
  const codesChecked = { count: 0 };
  const mfa: Mfa = { ...realMfa, verify: async (userId, input) => (codesChecked.count++, realMfa.verify(userId, input)) };
  const argon2Calls: Argon2Call[] = [];
  const hasher = createPasswordHasher(
    {},
    {
      argon2: {
        hash: argon2Hash,
        verify: async (hashed, password, ...rest) => {
          const { memoryCost, timeCost, parallelism } = parseOptions(hashed);
          argon2Calls.push({ memoryCost, timeCost, parallelism, passwordLength: [...password.toString()].length, hashed: hashed.toString() });
          return argon2Verify(hashed, password, ...rest);
        },
      },
    },
  );
  const lockout = createLockout({ state, clock, threshold: LOCKOUT_THRESHOLD, lockoutMs: 30 * 60_000 });
  const reported: string[] = [];
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
    ipLimit: 100_000,
    mfaRequiredRoles: ['admin', 'auditor'],
    detect: { signInFailed: async ({ account }) => void reported.push(account) },
  });
  const user = await users.create({ username: 'ada', roles: ['admin'], source: 'local' }, admin);
  await db.updateTable('users').set({ password_hash: await hasher.hash(PASSWORD) }).where('id', '=', user.id).execute();
  const { secret } = await mfa.startTotp(user.id);
  await mfa.confirmTotp(user.id, totp(base32Decode(secret), now), 'session');
  clock.advance(30_000);
  const ctx = { sourceIp: '192.0.2.10', requestId: 'r1' };
  const failures = async () => {
    await audit.trail.flush();
    const page = await audit.reader.search({ actionPrefix: 'auth.login.failed' }, { limit: 1000, order: 'asc' });
    return page.events.map((e) => JSON.parse(e.details) as Record<string, unknown>);
  };
  const currentCode = () => totp(base32Decode(secret), now);
  return { clock, db, state, signIn, lockout, hasher, users, mfa, user, ctx, reported, failures, currentCode, codesChecked, argon2Calls };
}
