import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { SharedState } from '../cluster/index.js';
import type { Tables } from '../store/index.js';
import type { Lockout } from './lockout.js';
import { mustUseMfa, type Mfa, type TotpEnrolmentStart } from './mfa.js';
import type { PasswordHasher } from './passwords.js';
import type { Principal, Role } from './principal.js';
import { normalizeUsername, type UserChangeContext, type Users, type UserSnapshot } from './users.js';

/** What sign-in needs from web sessions (WebSessions.create satisfies it). */
export interface SignInSessionsPort {
  create(input: { user: UserSnapshot; mfa: boolean; method: 'password'; context: UserChangeContext }): Promise<{ cookieValue: string; sessionId: string; csrfToken: string }>;
}

/** Where failed sign-ins are reported for brute-force detection (the detect module satisfies it). */
export interface SignInFailureSink {
  signInFailed(input: { account: string; ip: string; context: UserChangeContext }): Promise<void>;
}

export interface SignInContext extends UserChangeContext {
  /** The client IP (from a trusted proxy's X-Forwarded-For only). */
  sourceIp: string;
}

/** A session that was just created; the cookie value is for the Set-Cookie header only. */
export interface SignedIn {
  user: UserSnapshot;
  mfa: boolean;
  session: { cookieValue: string; sessionId: string; csrfToken: string };
}

/** The result of the password step. */
export type PasswordStepResult =
  | { kind: 'signed_in'; signedIn: SignedIn }
  /** A second factor is needed: the pre-auth id goes into a short cookie. */
  | { kind: 'mfa'; preAuthId: string }
  /** The user must use MFA but has none: the pre-auth id allows TOTP enrolment only. */
  | { kind: 'enrol'; preAuthId: string };

/**
 * Local sign-in as a list of steps: per-IP limit, find the account, lockout, password (one argon2
 * verify whether or not the account exists), state of the account, second factor, session.
 * Every failure answers `invalid_credentials`; its reason goes to the audit trail only.
 */
export interface LocalSignIn {
  password(input: { username: string; password: string }, context: SignInContext): Promise<PasswordStepResult>;
  secondFactor(preAuthId: string, input: { code?: string | undefined; recoveryCode?: string | undefined }, context: SignInContext): Promise<SignedIn>;
  /** `context` is for the audit record of a step that has expired or was already used. */
  startEnrolment(preAuthId: string, context?: SignInContext): Promise<TotpEnrolmentStart>;
  confirmEnrolment(preAuthId: string, code: string, context: SignInContext): Promise<SignedIn & { recoveryCodes: string[] }>;
  /**
   * A signed-in user's second factor, asked again before a sensitive change (`purpose`): counted,
   * recorded and reported exactly like the MFA step of sign-in, under the same account lockout.
   * Resolves when the code is right; otherwise throws `invalid_credentials` (locked accounts too).
   */
  confirmSecondFactor(userId: string, input: SecondFactorInput, purpose: SecondFactorPurpose, context: SignInContext): Promise<void>;
  /** Lifts the lockout of a username (an administrator's decision, audited); true when it was locked. */
  unlock(username: string, by: Principal, context?: UserChangeContext): Promise<boolean>;
}

export interface LocalSignInDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  state: SharedState;
  users: Users;
  mfa: Mfa;
  hasher: PasswordHasher;
  lockout: Lockout;
  sessions: SignInSessionsPort;
  /** Sign-in attempts per IP per window (WEBASSET_SIGNIN_IP_LIMIT). */
  ipLimit: number;
  ipWindowMs?: number;
  mfaRequiredRoles: readonly Role[];
  detect?: SignInFailureSink | undefined;
  /** Called when reporting to `detect` fails; sign-in goes on. */
  onError?: (error: unknown) => void;
}

/** A TOTP code or a recovery code. */
export interface SecondFactorInput {
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/** What a signed-in user's second factor is asked for (recorded as `purpose`). */
export type SecondFactorPurpose = 'recovery_codes';

/** Lifetime of the step between password and second factor. */
export const PRE_AUTH_TTL_MS = 5 * 60_000;
/** Second-factor guesses one pre-auth step allows (the account lockout counts them too). */
export const PRE_AUTH_MAX_ATTEMPTS = 5;
export const SIGNIN_IP_WINDOW_MS = 15 * 60_000;
const PRE_AUTH_SHAPE = /^[A-Za-z0-9_-]{43}$/;

type FailureReason =
  | 'unknown_user'
  | 'bad_password'
  | 'no_password'
  | 'disabled'
  | 'locked'
  | 'bad_totp'
  | 'totp_replayed'
  | 'bad_recovery_code'
  | 'not_enrolled'
  | 'service_account'
  /** Second factor to be enrolled through a one-time link (after an administrator's reset, or a new account's): password right. */
  | 'mfa_link_pending'
  | 'rate_limited'
  /** The pre-auth step between password and second factor is unknown, already used, expired or used up. */
  | 'login_expired';

/** Why a pre-auth step was refused (recorded as `preAuth`). */
type PreAuthRefusal = 'malformed' | 'unknown_or_used' | 'expired' | 'wrong_step' | 'too_many_attempts' | 'used_concurrently';

interface PreAuth {
  userId: string;
  account: string;
  stage: 'mfa' | 'enrol';
  expiresAt: number;
}

export function createLocalSignIn(deps: LocalSignInDeps): LocalSignIn {
  const { db, trail, clock, ids, state, users, mfa, hasher, lockout, sessions } = deps;
  const ipWindowMs = deps.ipWindowMs ?? SIGNIN_IP_WINDOW_MS;
  const preAuthKey = (id: string) => `preauth:${createHash('sha256').update(id).digest('base64url')}`;
  const preAuthAttemptsKey = (id: string) => `preauth-attempts:${createHash('sha256').update(id).digest('base64url')}`;

  const fail = async (reason: FailureReason, account: string, user: { id: string; username: string } | null, context: SignInContext, extra: Record<string, unknown> = {}) => {
    const actor: Actor = user ? { kind: 'user', id: user.id, name: user.username } : { kind: 'user', id: 'anonymous' };
    await trail.record({
      actor,
      action: 'auth.login.failed',
      outcome: 'failure',
      target: user ? { kind: 'user', id: user.id } : null,
      // An unknown name may be a password typed into the wrong field: only its hash is kept.
      details: { ...(user ? { username: user.username } : { usernameSha256: sha256(account).slice(0, 16) }), reason, ...extra },
      ...context,
    });
    try {
      await deps.detect?.signInFailed({ account: user ? user.username : `unknown:${sha256(account).slice(0, 16)}`, ip: context.sourceIp, context });
    } catch (error) {
      deps.onError?.(error);
    }
    return new AppError('invalid_credentials');
  };

  const newPreAuth = async (record: Omit<PreAuth, 'expiresAt'>) => {
    const id = ids.token(32);
    await state.set(preAuthKey(id), { ...record, expiresAt: clock.now() + PRE_AUTH_TTL_MS } satisfies PreAuth, PRE_AUTH_TTL_MS);
    return id;
  };

  /**
   * A refused pre-auth step (replayed, expired, used up) is recorded like any failed sign-in, then answered `login_expired`.
   * Its account is known only while its record is: an unknown step is recorded as anonymous and not reported for
   * brute-force detection, which counts accounts.
   */
  const preAuthRefused = async (why: PreAuthRefusal, step: PreAuth['stage'], context: SignInContext | undefined, record?: PreAuth) => {
    const user = record ? { id: record.userId, username: record.account } : null;
    await trail.record({
      actor: user ? { kind: 'user', id: user.id, name: user.username } : { kind: 'user', id: 'anonymous' },
      action: 'auth.login.failed',
      outcome: 'failure',
      target: user ? { kind: 'user', id: user.id } : null,
      details: { ...(user ? { username: user.username } : {}), reason: 'login_expired' satisfies FailureReason, step, preAuth: why },
      ...(context ?? {}),
    });
    return new AppError('login_expired');
  };

  const readPreAuth = async (id: string, stage: PreAuth['stage'], context: SignInContext | undefined): Promise<PreAuth> => {
    if (typeof id !== 'string' || !PRE_AUTH_SHAPE.test(id)) throw await preAuthRefused('malformed', stage, context);
    const record = (await state.get(preAuthKey(id))) as PreAuth | undefined;
    if (!record || typeof record.expiresAt !== 'number') throw await preAuthRefused('unknown_or_used', stage, context);
    if (record.stage !== stage) throw await preAuthRefused('wrong_step', stage, context, record);
    if (record.expiresAt <= clock.now()) throw await preAuthRefused('expired', stage, context, record);
    return record;
  };

  const startSession = async (user: UserSnapshot, account: string, mfaUsed: 'totp' | 'recovery_code' | 'none', context: SignInContext, extra: Record<string, unknown> = {}) => {
    await lockout.succeeded(account);
    await trail.record({
      actor: { kind: 'user', id: user.id, name: user.username },
      action: 'auth.login.succeeded',
      outcome: 'success',
      target: { kind: 'user', id: user.id },
      details: { method: 'password', mfa: mfaUsed, ...extra },
      ...context,
    });
    const session = await sessions.create({ user, mfa: mfaUsed !== 'none', method: 'password', context });
    await db.updateTable('users').set({ last_login_at_ms: clock.now() }).where('id', '=', user.id).execute();
    return { user, mfa: mfaUsed !== 'none', session };
  };

  /** The user behind a pre-auth step, still enabled; otherwise a recorded failure. */
  const stillEnabled = async (record: PreAuth, context: SignInContext) => {
    const snapshot = await users.sessionUser(record.userId);
    if (!snapshot) throw await fail('disabled', record.account, { id: record.userId, username: record.account }, context);
    return snapshot;
  };

  /** The user behind a pre-auth step, still enabled and not locked; otherwise a recorded failure. */
  const stillAllowed = async (record: PreAuth, context: SignInContext) => {
    const snapshot = await stillEnabled(record, context);
    if ((await lockout.lockedFor(record.account)) > 0) throw await fail('locked', record.account, snapshot, context);
    return snapshot;
  };

  /**
   * One second-factor check, counted before it runs: the attempt is taken from the account's lockout allowance first
   * (one atomic increment), so parallel guesses never check more codes than the lockout allows. A failure is recorded
   * and reported to brute-force detection like every failed sign-in.
   */
  const checkSecondFactor = async (user: { id: string; username: string }, account: string, input: SecondFactorInput, context: SignInContext, extra: Record<string, unknown> = {}) => {
    const reserved = await lockout.reserve(account);
    if (!reserved.allowed) throw await fail('locked', account, user, context, { ...extra, locked: true });
    let result;
    try {
      result = await mfa.verify(user.id, input);
    } catch (error) {
      await reserved.release();
      throw error;
    }
    if (!result.ok) {
      const verdict = await reserved.failed();
      throw await fail(result.reason, account, user, context, { ...extra, failures: verdict.failures, locked: verdict.locked });
    }
    return result;
  };

  return {
    async password(input, context) {
      // 1. Per-IP limit, counted before any work; only the first refusal of a window is recorded.
      const hit = await state.hit(`signin:ip:${sha256(context.sourceIp).slice(0, 32)}`, ipWindowMs, deps.ipLimit);
      if (!hit.allowed) {
        const retryAfterSeconds = Math.max(1, Math.ceil(hit.retryAfterMs / 1000));
        if (hit.count === deps.ipLimit + 1) {
          await trail.record({ actor: { kind: 'user', id: 'anonymous' }, action: 'auth.login.failed', outcome: 'failure', details: { reason: 'rate_limited', retryAfterSeconds }, ...context });
        }
        throw new AppError('rate_limited', { data: { retryAfterSeconds } });
      }
      const typed = typeof input.username === 'string' ? input.username : '';
      const password = typeof input.password === 'string' ? input.password : '';
      // 2. The account, named as typed when it cannot be a username (its lockout then still counts).
      const username = normalizeUsername(typed);
      const account = username ?? typed.normalize('NFKC').trim().toLowerCase().slice(0, 512);
      const row = username
        ? await db.selectFrom('users').select(['id', 'username', 'password_hash', 'disabled_at_ms', 'kind']).where('username', '=', username).executeTakeFirst()
        : undefined;
      // 3. The attempt is taken from the account's lockout allowance before the password is checked, in one atomic
      //    increment, so that guesses sent at once (from many IPs) never check more passwords than the lockout allows.
      const reserved = await lockout.reserve(account);
      // 4. Exactly one argon2id verification on every path, against the account's hash only when the attempt is allowed:
      //    a refused one (locked, or the allowance taken by guesses in flight) costs the same against a dummy hash.
      const hash = row?.password_hash ?? null;
      const known = row ? { id: row.id, username: row.username } : null;
      let matches: boolean;
      try {
        matches = reserved.allowed && hash !== null ? await hasher.verify(hash, password) : await hasher.verifyUnknownAccount(password);
      } catch (error) {
        if (reserved.allowed) await reserved.release();
        throw error;
      }
      if (!reserved.allowed) throw await fail('locked', account, known, context, { locked: true });
      const refuse = async (reason: FailureReason, user: { id: string; username: string } | null) => {
        const verdict = await reserved.failed();
        return fail(reason, account, user, context, { failures: verdict.failures, locked: verdict.locked });
      };
      if (!row) throw await refuse('unknown_user', null);
      if (hash === null) throw await refuse('no_password', known);
      if (!matches) throw await refuse('bad_password', known);
      if (row.disabled_at_ms !== null) throw await refuse('disabled', known);
      // An agent's service account acts through tokens only, even if a password was set on it somehow.
      if (row.kind === 'service') throw await refuse('service_account', known);
      const snapshot = await users.sessionUser(row.id);
      if (!snapshot) throw await refuse('disabled', known);
      const user = await users.get(row.id);
      const mustEnrol = !user?.mfaEnrolled && mustUseMfa(snapshot.roles, user?.mfaRequired ?? true, deps.mfaRequiredRoles);
      // An administrator reset the second factor (a lost phone, or one in the wrong hands), or a new account's link set the
      // password and still has its TOTP step: the second factor is enrolled through that one-time link, never with the
      // password alone, which may be in other hands. Refused like a wrong password, so the answer does not confirm the
      // password to whoever typed it; the record says why.
      if (mustEnrol && (await users.enrolsByLink(row.id))) throw await refuse('mfa_link_pending', known);
      // The password was right: the attempt it took is given back (one decrement, not a reset). A second factor still
      // to come keeps the failures before it, and a user who stops there has not failed.
      await reserved.release();
      if (hasher.needsRehash(hash)) {
        await db.updateTable('users').set({ password_hash: await hasher.hash(password) }).where('id', '=', row.id).execute();
      }
      // 5. Second factor: always asked once enrolled; required by role, policy or flag.
      if (user?.mfaEnrolled) return { kind: 'mfa', preAuthId: await newPreAuth({ userId: row.id, account, stage: 'mfa' }) };
      if (mustEnrol) return { kind: 'enrol', preAuthId: await newPreAuth({ userId: row.id, account, stage: 'enrol' }) };
      return { kind: 'signed_in', signedIn: await startSession(snapshot, account, 'none', context) };
    },

    async secondFactor(preAuthId, input, context) {
      const record = await readPreAuth(preAuthId, 'mfa', context);
      const snapshot = await stillEnabled(record, context);
      // The step's allowance is taken before the code is checked, in one atomic increment, so parallel guesses cannot exceed it.
      const attempt = await state.hit(preAuthAttemptsKey(preAuthId), PRE_AUTH_TTL_MS, PRE_AUTH_MAX_ATTEMPTS);
      if (!attempt.allowed) {
        await state.delete(preAuthKey(preAuthId));
        throw await preAuthRefused('too_many_attempts', 'mfa', context, record);
      }
      let result;
      try {
        result = await checkSecondFactor(snapshot, record.account, input, context);
      } catch (error) {
        // Too many guesses end the step: the next try starts again with the password.
        if (attempt.count >= PRE_AUTH_MAX_ATTEMPTS) await state.delete(preAuthKey(preAuthId));
        throw error;
      }
      // The step is used once: of two concurrent requests, only the one that deletes it signs in.
      if (!(await state.delete(preAuthKey(preAuthId)))) throw await preAuthRefused('used_concurrently', 'mfa', context, record);
      return startSession(snapshot, record.account, result.method, context, result.method === 'recovery_code' ? { recoveryCodesLeft: result.recoveryCodesLeft } : {});
    },

    async startEnrolment(preAuthId, context) {
      const record = await readPreAuth(preAuthId, 'enrol', context);
      return mfa.startTotp(record.userId);
    },

    async confirmEnrolment(preAuthId, code, context) {
      const record = await readPreAuth(preAuthId, 'enrol', context);
      const snapshot = await stillAllowed(record, context);
      const codes = await mfa.confirmTotp(record.userId, typeof code === 'string' ? code.trim() : '', 'sign_in', context);
      if (!codes) {
        // Recorded and reported like a wrong code at the MFA step; the answer still helps the user who is setting it up.
        await fail('bad_totp', record.account, snapshot, context, { step: 'enrol' });
        throw new AppError('invalid_request', { publicMessage: 'The code does not match. Check the time on your device and enter the current code.' });
      }
      await state.delete(preAuthKey(preAuthId));
      return { ...(await startSession(snapshot, record.account, 'totp', context)), recoveryCodes: codes };
    },

    async confirmSecondFactor(userId, input, purpose, context) {
      const user = await users.get(userId);
      if (!user) throw new AppError('unauthenticated');
      const account = normalizeUsername(user.username) ?? user.username;
      try {
        await checkSecondFactor(user, account, input, context, { purpose });
      } catch (error) {
        if (error instanceof AppError && error.code === 'invalid_credentials') {
          throw new AppError('invalid_credentials', { publicMessage: 'The code is wrong or was already used, or too many wrong codes were tried.' });
        }
        throw error;
      }
      // Proven like at sign-in: the attempt it reserved, and the failures before it, no longer count.
      await lockout.succeeded(account);
    },

    async unlock(input, by, context) {
      const user = await users.findByUsername(input);
      if (!user) throw new AppError('not_found', { publicMessage: 'No such user.' });
      await trail.record({
        actor: { kind: by.kind, id: by.id, name: by.name },
        action: 'user.unlocked',
        outcome: 'success',
        target: { kind: 'user', id: user.id },
        details: { username: user.username },
        ...context,
      });
      return lockout.unlock(user.username);
    },
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
