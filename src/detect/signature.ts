import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a signed alert delivery; receivers read these. */
export const SIGNATURE_HEADER = 'x-webasset-signature';
export const TIMESTAMP_HEADER = 'x-webasset-timestamp';

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). The timestamp
 * is inside the MAC so a captured delivery cannot be replayed later with a
 * fresh timestamp; receivers also check that it is recent.
 */
export function signAlertBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * The receiver's side, as docs/operations.md describes it: true when the
 * signature matches and the timestamp is within `toleranceSeconds` of `nowMs`.
 * Compared in constant time.
 */
export function verifyAlertSignature(input: {
  secret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string;
  nowMs: number;
  toleranceSeconds?: number;
}): boolean {
  const { secret, timestamp, signature, body, nowMs } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > (input.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signAlertBody(secret, timestamp, body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
