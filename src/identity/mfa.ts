import type { Kysely } from 'kysely';
import { AppError, type Clock } from '../core/index.js';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { Tables } from '../store/index.js';
import type { IdentityKey } from './identity-key.js';
import type { Role } from './principal.js';
import {
  generateRecoveryCodes,
  generateTotpSecret,
  hashRecoveryCode,
  matchRecoveryCode,
  otpauthUri,
  qrCodeSvg,
  verifyTotp,
  type TotpReplayGuard,
} from './totp.js';
import type { UserChangeContext } from './users.js';

/** Roles that always need a second factor, whatever WEBASSET_MFA_REQUIRED_ROLES says. */
export const ALWAYS_MFA_ROLES: readonly Role[] = ['admin', 'auditor'];

/** Whether a user must sign in with a second factor: admin and auditor always, the configured roles, or the user's own flag. */
export function mustUseMfa(effectiveRoles: readonly Role[], mfaRequired: boolean, requiredRoles: readonly Role[]): boolean {
  return mfaRequired || effectiveRoles.some((r) => ALWAYS_MFA_ROLES.includes(r) || requiredRoles.includes(r));
}

/** How many recovery codes a user gets at enrolment and regeneration. */
export const RECOVERY_CODE_COUNT = 10;

/** What TOTP enrolment shows once: the seed, as a URI and as a QR code. */
export interface TotpEnrolmentStart {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export type SecondFactorResult =
  | { ok: true; method: 'totp' }
  | { ok: true; method: 'recovery_code'; recoveryCodesLeft: number }
  | { ok: false; reason: 'bad_totp' | 'totp_replayed' | 'bad_recovery_code' | 'not_enrolled' };

/** The second factor of local accounts: TOTP with a sealed seed, and single-use recovery codes. */
export interface Mfa {
  /** A new seed, stored sealed but not yet active; refused with `mfa_already_enrolled` once enrolled. */
  startTotp(userId: string): Promise<TotpEnrolmentStart>;
  /**
   * Activates the pending seed when `code` matches it, and replaces the recovery codes; returns
   * them (shown once). A wrong code answers null and changes nothing.
   */
  confirmTotp(userId: string, code: string, via: 'enrolment_link' | 'sign_in' | 'session', context?: UserChangeContext): Promise<string[] | null>;
  /** Checks a TOTP code (accepted once) or a recovery code (single use). */
  verify(userId: string, input: { code?: string | undefined; recoveryCode?: string | undefined }): Promise<SecondFactorResult>;
  /** New recovery codes for an enrolled user; the old ones stop working. */
  regenerateRecoveryCodes(userId: string, context?: UserChangeContext): Promise<string[]>;
}

export interface MfaDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  key: IdentityKey;
  /** Shown by authenticator apps next to the account. No colon. */
  issuer?: string;
}

/**
 * TOTP replay guard on the users row: one compare-and-set, so two nodes cannot both accept
 * a code, and an older code of the window is refused once a newer one was used.
 */
export function createDatabaseTotpReplayGuard(db: Kysely<Tables>): TotpReplayGuard {
  return {
    async acceptOnce(userId, step) {
      const result = await db
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', userId)
        .where('totp_enabled_at_ms', 'is not', null)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export function createMfa(deps: MfaDeps): Mfa {
  const { db, trail, clock, key } = deps;
  const issuer = deps.issuer ?? 'WebAsset';
  const guard = createDatabaseTotpReplayGuard(db);

  const userRow = async (userId: string) => {
    const row = await db
      .selectFrom('users')
      .select(['id', 'username', 'display_name', 'totp_secret_sealed', 'totp_enabled_at_ms'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AppError('not_found', { publicMessage: 'No such user.' });
    return row;
  };
  const selfActor = (row: { id: string; display_name: string }): Actor => ({ kind: 'user', id: row.id, name: row.display_name });

  const replaceRecoveryCodes = async (userId: string, codes: string[]) => {
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('user_recovery_codes').where('user_id', '=', userId).execute();
      await trx
        .insertInto('user_recovery_codes')
        .values(codes.map((code) => ({ user_id: userId, code_hash: hashRecoveryCode(code), created_at_ms: now, used_at_ms: null })))
        .execute();
    });
  };

  return {
    async startTotp(userId) {
      const row = await userRow(userId);
      if (row.totp_enabled_at_ms !== null) throw new AppError('mfa_already_enrolled');
      const secret = generateTotpSecret();
      await db
        .updateTable('users')
        .set({ totp_secret_sealed: key.seal(secret, userId), totp_last_step: null, updated_at_ms: clock.now() })
        .where('id', '=', userId)
        .where('totp_enabled_at_ms', 'is', null)
        .execute();
      const uri = otpauthUri({ issuer, account: row.username, secret });
      return { secret, otpauthUri: uri, qrSvg: await qrCodeSvg(uri) };
    },

    async confirmTotp(userId, code, via, context) {
      const row = await userRow(userId);
      if (row.totp_enabled_at_ms !== null) throw new AppError('mfa_already_enrolled');
      if (row.totp_secret_sealed === null) throw new AppError('invalid_request', { publicMessage: 'Start TOTP enrolment first.' });
      const step = verifyTotp(key.open(row.totp_secret_sealed, userId), code, { now: clock.now() });
      if (step === null) return null;
      const codes = generateRecoveryCodes(RECOVERY_CODE_COUNT);
      await trail.record({
        actor: selfActor(row),
        action: 'user.mfa_enrolled',
        outcome: 'success',
        target: { kind: 'user', id: userId },
        details: { via, recoveryCodes: codes.length },
        ...context,
      });
      // Only the seed that was shown is activated: a restart meanwhile (another tab) loses the race.
      const result = await db
        .updateTable('users')
        .set({ totp_enabled_at_ms: clock.now(), totp_last_step: step, updated_at_ms: clock.now() })
        .where('id', '=', userId)
        .where('totp_enabled_at_ms', 'is', null)
        .where('totp_secret_sealed', '=', row.totp_secret_sealed)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new AppError('mfa_already_enrolled');
      await replaceRecoveryCodes(userId, codes);
      return codes;
    },

    async verify(userId, input) {
      const row = await userRow(userId);
      if (row.totp_enabled_at_ms === null || row.totp_secret_sealed === null) return { ok: false, reason: 'not_enrolled' };
      if (typeof input.code === 'string') {
        const step = verifyTotp(key.open(row.totp_secret_sealed, userId), input.code.trim(), { now: clock.now() });
        if (step === null) return { ok: false, reason: 'bad_totp' };
        return (await guard.acceptOnce(userId, step)) ? { ok: true, method: 'totp' } : { ok: false, reason: 'totp_replayed' };
      }
      if (typeof input.recoveryCode === 'string') {
        const unused = await db.selectFrom('user_recovery_codes').select('code_hash').where('user_id', '=', userId).where('used_at_ms', 'is', null).execute();
        const index = matchRecoveryCode(input.recoveryCode, unused.map((r) => r.code_hash.trim()));
        if (index === null) return { ok: false, reason: 'bad_recovery_code' };
        // Single use: only the request whose update marks the code wins.
        const result = await db
          .updateTable('user_recovery_codes')
          .set({ used_at_ms: clock.now() })
          .where('user_id', '=', userId)
          .where('code_hash', '=', unused[index]!.code_hash)
          .where('used_at_ms', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return { ok: false, reason: 'bad_recovery_code' };
        return { ok: true, method: 'recovery_code', recoveryCodesLeft: unused.length - 1 };
      }
      return { ok: false, reason: 'bad_totp' };
    },

    async regenerateRecoveryCodes(userId, context) {
      const row = await userRow(userId);
      if (row.totp_enabled_at_ms === null) throw new AppError('invalid_request', { publicMessage: 'Enrol TOTP first.' });
      const codes = generateRecoveryCodes(RECOVERY_CODE_COUNT);
      await trail.record({
        actor: selfActor(row),
        action: 'user.recovery_codes.regenerated',
        outcome: 'success',
        target: { kind: 'user', id: userId },
        details: { recoveryCodes: codes.length },
        ...context,
      });
      await replaceRecoveryCodes(userId, codes);
      return codes;
    },
  };
}
