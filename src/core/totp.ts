import { createHmac } from 'node:crypto';
import { AppError } from './errors.js';

/**
 * TOTP primitives (RFC 4648 base32, RFC 4226 HOTP, RFC 6238 TOTP). Here in core because two
 * modules need them: identity verifies the codes people type, browser/login computes the code of
 * a portal's TOTP seed at the moment it signs in.
 */

/** Seconds per TOTP time step (RFC 6238's default, and what every authenticator app assumes). */
export const TOTP_STEP_SECONDS = 30;
/** Digits of a code. */
export const TOTP_DIGITS = 6;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, upper case, without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes RFC 4648 base32; lower case and trailing `=` padding are accepted (authenticator apps
 * and people write both). Throws `invalid_request` on any other character.
 */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase();
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value === -1) throw new AppError('invalid_request', { publicMessage: 'The value is not valid base32.' });
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP: HMAC-SHA1 over the 8-byte big-endian counter, dynamically truncated. */
export function hotp(key: Uint8Array, counter: number | bigint, digits = TOTP_DIGITS): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The RFC 6238 time step that contains `nowMs`. */
export function totpStep(nowMs: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(nowMs / 1000 / stepSeconds);
}

/** RFC 6238 TOTP (HMAC-SHA1) of `key` at `nowMs`. */
export function totp(key: Uint8Array, nowMs: number, options: { digits?: number; stepSeconds?: number } = {}): string {
  return hotp(key, totpStep(nowMs, options.stepSeconds), options.digits);
}
