import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import QRCode from 'qrcode';
import { AppError, TOTP_DIGITS, TOTP_STEP_SECONDS, base32Decode, base32Encode, hotp, totpStep } from '../core/index.js';

// The primitives moved to core (browser/login computes codes too); re-exported so identity's API is unchanged.
export { TOTP_DIGITS, TOTP_STEP_SECONDS, base32Decode, base32Encode, hotp, totp, totpStep } from '../core/index.js';

/** Bytes of a new secret: 160 bits, the HMAC-SHA1 block RFC 4226 recommends. */
export const TOTP_SECRET_BYTES = 20;

const CODE_SHAPE = /^[0-9]{6}$/;

/** A new TOTP secret: 20 random bytes as base32 without padding (32 characters). */
export function generateTotpSecret(random: (size: number) => Buffer = randomBytes): string {
  return base32Encode(random(TOTP_SECRET_BYTES));
}

/** Options of {@link verifyTotp}. */
export interface VerifyTotpOptions {
  /** Milliseconds since the Unix epoch (a Clock's `now()`). */
  now: number;
  /** Steps accepted on each side of the current one, for clock drift and typing time. Default 1. */
  window?: number;
}

/**
 * The time step `code` belongs to, within `window` steps of `now`, or null. A code that is not
 * exactly six digits is refused before any HMAC is computed. Every step of the window is compared,
 * in constant time, so the time taken does not say which step matched.
 *
 * A match is not yet an acceptance: pass the step to {@link TotpReplayGuard.acceptOnce}.
 */
export function verifyTotp(secret: string, code: string, options: VerifyTotpOptions): number | null {
  if (!CODE_SHAPE.test(code)) return null;
  const window = options.window ?? 1;
  if (!Number.isSafeInteger(window) || window < 0 || window > 10) throw new AppError('internal', { detail: 'TOTP window must be an integer from 0 to 10' });
  const key = secretKey(secret);
  const presented = Buffer.from(code, 'ascii');
  const current = totpStep(options.now);
  let matched: number | null = null;
  for (let step = current - window; step <= current + window; step++) {
    if (step < 0) continue;
    if (timingSafeEqual(Buffer.from(hotp(key, step), 'ascii'), presented) && matched === null) matched = step;
  }
  return matched;
}

/**
 * Replay protection, supplied by the caller's store (a database row per user, or Redis).
 *
 * `acceptOnce` must atomically record `step` and answer true only when it is greater than the last
 * step accepted for that user (compare-and-set, e.g. `UPDATE ... SET totp_last_step = $step WHERE
 * totp_last_step < $step`). "Greater than", not "not seen before": one number per user is enough,
 * it is trivially atomic in SQL and Redis, and it also refuses an older code of the window once a
 * newer one was used, so a code read over the user's shoulder is worthless as soon as they sign in.
 */
export interface TotpReplayGuard {
  acceptOnce(userId: string, step: number): Promise<boolean>;
}

/** A replay guard kept in this process only: for tests and single-process tools, not for a cluster. */
export function createInMemoryTotpReplayGuard(): TotpReplayGuard {
  const lastStep = new Map<string, number>();
  return {
    async acceptOnce(userId, step) {
      const last = lastStep.get(userId);
      if (last !== undefined && step <= last) return false;
      lastStep.set(userId, step);
      return true;
    },
  };
}

/** Verifies `code` and accepts it at most once for `userId`: true only on the first valid use. */
export async function checkTotpOnce(
  input: { userId: string; secret: string; code: string },
  options: VerifyTotpOptions & { guard: TotpReplayGuard },
): Promise<boolean> {
  const step = verifyTotp(input.secret, input.code, options);
  if (step === null) return false;
  return options.guard.acceptOnce(input.userId, step);
}

/**
 * The `otpauth://totp/...` URI of the Key Uri Format that authenticator apps read. Every part is
 * percent-encoded (a space as `%20`, never `+`). The issuer may not contain a colon, since apps split
 * the label `issuer:account` on it; the account may (it is encoded, and comes after the separator).
 */
export function otpauthUri(input: { issuer: string; account: string; secret: string }): string {
  const { issuer, account, secret } = input;
  if (issuer.trim() === '' || issuer.includes(':')) {
    throw new AppError('invalid_request', { publicMessage: 'The TOTP issuer must be non-empty and must not contain a colon.' });
  }
  if (account.trim() === '') throw new AppError('invalid_request', { publicMessage: 'The TOTP account name must be non-empty.' });
  if (base32Decode(secret).length < 16) throw new AppError('invalid_request', { publicMessage: 'The TOTP secret is too short.' });
  const e = encodeURIComponent;
  const query = `secret=${e(secret.replace(/=+$/, '').toUpperCase())}&issuer=${e(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_STEP_SECONDS}`;
  return `otpauth://totp/${e(issuer)}:${e(account)}?${query}`;
}

/** The URI as a QR code in SVG (served as an image, so a strict CSP needs no exception). */
export async function qrCodeSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** The URI as a QR code in a PNG `data:` URL. */
export async function qrCodeDataUrl(uri: string): Promise<string> {
  return QRCode.toDataURL(uri, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2 });
}

function secretKey(secret: string): Buffer {
  try {
    return base32Decode(secret);
  } catch {
    // A stored secret that does not decode is our fault, not the caller's; its value stays out of the error.
    throw new AppError('internal', { detail: 'stored TOTP secret is not valid base32' });
  }
}

/** Characters of a recovery code, without separators: 16 × 5 bits = 80 bits of entropy. */
export const RECOVERY_CODE_LENGTH = 16;
const RECOVERY_SHAPE = /^[A-Z2-7]{16}$/;

/**
 * `n` new recovery codes, shown once to the user, grouped for reading: `ABCD-EFGH-IJKL-MNOP`.
 * Store only {@link hashRecoveryCode} of each.
 */
export function generateRecoveryCodes(n = 10, random: (size: number) => Buffer = randomBytes): string[] {
  if (!Number.isSafeInteger(n) || n < 1 || n > 100) throw new AppError('invalid_request', { publicMessage: 'Between 1 and 100 recovery codes can be made.' });
  return Array.from({ length: n }, () => {
    const code = base32Encode(random(10)); // 10 bytes = exactly 16 base32 characters
    return code.match(/.{4}/g)!.join('-');
  });
}

/** The code as typed, upper-cased and without spaces or dashes, or null when it cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | null {
  if (input.length > 64) return null;
  const clean = input.replace(/[\s-]/g, '').toUpperCase();
  return RECOVERY_SHAPE.test(clean) ? clean : null;
}

/**
 * SHA-256 (hex) of a recovery code, for storage. A slow hash such as argon2 is not needed: a code
 * carries 80 random bits, so even with a stolen hash and fast SHA-256 an offline search of 2^80
 * candidates is out of reach. Slow hashes exist for low-entropy human passwords, not for this.
 */
export function hashRecoveryCode(code: string): string {
  const normalized = normalizeRecoveryCode(code);
  if (normalized === null) throw new AppError('invalid_request', { publicMessage: 'That is not a recovery code.' });
  return createHash('sha256').update(normalized, 'ascii').digest('hex');
}

/**
 * The index in `storedHashes` of the hash that `input` matches, or null. Malformed input is
 * refused without hashing; otherwise every stored hash is compared in constant time. Single use is
 * the caller's part: it deletes or marks that hash atomically, and only a successful delete counts.
 */
export function matchRecoveryCode(input: string, storedHashes: readonly string[]): number | null {
  if (normalizeRecoveryCode(input) === null) return null;
  const presented = Buffer.from(hashRecoveryCode(input), 'hex');
  let matched: number | null = null;
  storedHashes.forEach((stored, index) => {
    const candidate = Buffer.from(stored, 'hex');
    if (candidate.length === presented.length && timingSafeEqual(candidate, presented) && matched === null) matched = index;
  });
  return matched;
}
