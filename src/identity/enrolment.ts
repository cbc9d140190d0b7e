import type { Kysely } from 'kysely';
import { AppError, type Clock } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Tables } from '../store/index.js';
import { mustUseMfa, type Mfa, type TotpEnrolmentStart } from './mfa.js';
import type { PasswordHasher, PasswordPolicy } from './passwords.js';
import type { Role } from './principal.js';
import { hashEnrolmentToken, type UserChangeContext, type Users } from './users.js';

/** What an enrolment link lets its holder do next. */
export interface EnrolmentState {
  username: string;
  displayName: string;
  purpose: 'enrol' | 'reset_mfa';
  /** A password is still to be set (only `enrol` links, before the password step). */
  passwordStep: boolean;
  /** TOTP is to be enrolled before the link is used up. */
  totpStep: boolean;
  expiresAt: string;
}

/**
 * One-time enrolment links (`webasset users create`, reset MFA): set the first password, then
 * enrol TOTP. An `enrol` link becomes a `reset_mfa` link once its password is set (so the
 * password cannot be set twice through it), and is used up when the last step is done.
 */
export interface Enrolment {
  describe(token: string): Promise<EnrolmentState>;
  setPassword(token: string, password: string, context?: UserChangeContext): Promise<EnrolmentState | null>;
  startTotp(token: string): Promise<TotpEnrolmentStart>;
  /** Recovery codes (shown once); throws `invalid_request` when the code does not match the new seed. */
  confirmTotp(token: string, code: string, context?: UserChangeContext): Promise<string[]>;
}

export interface EnrolmentDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  users: Users;
  mfa: Mfa;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  /** Roles that must use MFA besides admin and auditor (WEBASSET_MFA_REQUIRED_ROLES). */
  mfaRequiredRoles: readonly Role[];
}

/** Tokens are 32 random bytes in base64url: anything else is refused before the database is asked. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function createEnrolment(deps: EnrolmentDeps): Enrolment {
  const { db, trail, clock, users, mfa, hasher, policy } = deps;

  const invalid = () => new AppError('enrolment_link_invalid');

  /** The live link and its user; every failure is the same answer. */
  const load = async (token: string) => {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) throw invalid();
    const link = await db
      .selectFrom('user_enrolments')
      .selectAll()
      .where('token_hash', '=', hashEnrolmentToken(token))
      .where('used_at_ms', 'is', null)
      .where('expires_at_ms', '>', clock.now())
      .executeTakeFirst();
    if (!link || (link.purpose !== 'enrol' && link.purpose !== 'reset_mfa')) throw invalid();
    const user = await users.get(link.user_id);
    const snapshot = user ? await users.sessionUser(user.id) : null;
    if (!user || user.disabled || !snapshot || user.source !== 'local') throw invalid();
    const totpStep = !user.mfaEnrolled && (link.purpose === 'reset_mfa' || mustUseMfa(snapshot.roles, user.mfaRequired, deps.mfaRequiredRoles));
    const state: EnrolmentState = {
      username: user.username,
      displayName: user.displayName,
      purpose: link.purpose,
      passwordStep: link.purpose === 'enrol',
      totpStep,
      expiresAt: new Date(link.expires_at_ms).toISOString(),
    };
    return { link, user, state };
  };

  /** Moves the link on (compare-and-set on its current purpose), or uses it up. */
  const advance = async (tokenHash: string, from: 'enrol' | 'reset_mfa', to: 'reset_mfa' | 'used') => {
    const now = clock.now();
    const update = db
      .updateTable('user_enrolments')
      .set(to === 'used' ? { used_at_ms: now } : { purpose: to })
      .where('token_hash', '=', tokenHash)
      .where('purpose', '=', from)
      .where('used_at_ms', 'is', null)
      .where('expires_at_ms', '>', now);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw invalid();
  };

  return {
    async describe(token) {
      return (await load(token)).state;
    },

    async setPassword(token, password, context) {
      const { link, user, state } = await load(token);
      if (!state.passwordStep) throw new AppError('invalid_request', { publicMessage: 'This link does not set a password.' });
      if (typeof password !== 'string') throw new AppError('invalid_request', { publicMessage: 'A password is required.' });
      policy.assertAcceptable(password, { username: user.username, email: user.email ?? undefined });
      const hash = await hasher.hash(password);
      await trail.record({
        actor: { kind: 'user', id: user.id, name: user.displayName },
        action: 'user.password_set',
        outcome: 'success',
        target: { kind: 'user', id: user.id },
        details: { via: 'enrolment_link' },
        ...context,
      });
      await advance(link.token_hash, 'enrol', state.totpStep ? 'reset_mfa' : 'used');
      await db.updateTable('users').set({ password_hash: hash, updated_at_ms: clock.now() }).where('id', '=', user.id).execute();
      return state.totpStep ? { ...state, purpose: 'reset_mfa', passwordStep: false } : null;
    },

    async startTotp(token) {
      const { user, state } = await load(token);
      if (state.passwordStep) throw new AppError('invalid_request', { publicMessage: 'Set a password first.' });
      if (!state.totpStep) throw new AppError('mfa_already_enrolled');
      return mfa.startTotp(user.id);
    },

    async confirmTotp(token, code, context) {
      const { link, user, state } = await load(token);
      if (state.passwordStep) throw new AppError('invalid_request', { publicMessage: 'Set a password first.' });
      if (!state.totpStep) throw new AppError('mfa_already_enrolled');
      const codes = await mfa.confirmTotp(user.id, typeof code === 'string' ? code.trim() : '', 'enrolment_link', context);
      if (!codes) throw new AppError('invalid_request', { publicMessage: 'The code does not match. Check the time on your device and enter the current code.' });
      await advance(link.token_hash, 'reset_mfa', 'used');
      return codes;
    },
  };
}
