import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Envelope encryption of vault entries (docs/vault.md): a fresh 256-bit data
 * key per entry version seals the fields with AES-256-GCM; the data key is
 * sealed by the key-encryption key (KEK), also AES-256-GCM. Both carry the
 * entry id and version as additional authenticated data, so a ciphertext or
 * a wrapped key moved to another row or version does not open.
 *
 * Sealed blobs are `[format byte][12-byte IV][ciphertext][16-byte tag]`.
 */
const FORMAT = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const OVERHEAD = 1 + IV_BYTES + TAG_BYTES;

/** Why a sealed value did not open; never carries any of its bytes. */
export class SealError extends Error {
  constructor(readonly reason: 'truncated' | 'unknown_format' | 'authentication_failed') {
    super(`sealed value ${reason.replace('_', ' ')}`);
    this.name = 'SealError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  return Buffer.concat([Buffer.of(FORMAT), iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext in a Buffer the caller owns and must zero-fill after use. */
export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < OVERHEAD) throw new SealError('truncated');
  if (sealed[0] !== FORMAT) throw new SealError('unknown_format');
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const body = sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES);
  let first: Buffer | undefined;
  let last: Buffer | undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    first = decipher.update(body);
    last = decipher.final();
    return last.length === 0 ? first : Buffer.concat([first, last]);
  } catch {
    throw new SealError('authentication_failed');
  } finally {
    // Unauthenticated plaintext (or the pieces of a concatenation) never outlive this call.
    if (last && last.length > 0) {
      first?.fill(0);
      last.fill(0);
    } else if (!last) first?.fill(0);
  }
}

/** AAD of an entry version's fields and of its wrapped data key (distinct, so one cannot stand in for the other). */
export const fieldsAad = (entryId: string, version: number) => `webasset-vault/v1/fields/${entryId}/${version}`;
export const dataKeyAad = (entryId: string, version: number) => `webasset-vault/v1/data-key/${entryId}/${version}`;
export const nextKekAad = (kekId: string) => `webasset-vault/v1/next-kek/${kekId}`;

/** Public fingerprint of a KEK: names the key in rows and messages without revealing it. */
export function kekIdOf(kek: Buffer): string {
  return createHmac('sha256', kek).update('webasset vault key id').digest('base64url').slice(0, 12);
}

/** Key check value: stored in the database so a wrong KEK is refused at start. An HMAC: it reveals nothing of the key. */
export function checkValueOf(kek: Buffer): string {
  return createHmac('sha256', kek).update('webasset vault key check value').digest('hex');
}

export function checkValueMatches(kek: Buffer, stored: string): boolean {
  const expected = Buffer.from(checkValueOf(kek), 'hex');
  const actual = Buffer.from(stored, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
