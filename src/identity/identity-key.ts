import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError } from '../core/index.js';

/**
 * Seals small identity secrets (TOTP seeds) at rest with AES-256-GCM. The owner's id is the
 * additional authenticated data, so a sealed value copied onto another user's row does not open.
 */
export interface IdentityKey {
  /** `v1.<key id>.<iv>.<ciphertext+tag>` (base64url parts). */
  seal(plaintext: string, ownerId: string): string;
  /** The plaintext; throws `internal` when the value was altered, sealed for another owner, or with another key. */
  open(sealed: string, ownerId: string): string;
  /** Short public fingerprint of the key (in sealed values, to tell which key sealed them). */
  readonly keyId: string;
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** An identity key from 32 bytes of base64 (WEBASSET_IDENTITY_KEY or the key file). */
export function createIdentityKey(keyBase64: string): IdentityKey {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== 32) throw new AppError('config_invalid', { publicMessage: 'The identity key must be 32 bytes of base64.' });
  // A fingerprint of the key, not the key: safe to store next to the ciphertext.
  const keyId = createHash('sha256').update('webasset identity key id').update(key).digest('base64url').slice(0, 8);
  const aad = (ownerId: string) => Buffer.from(`webasset-identity/${VERSION}/${ownerId}`, 'utf8');

  return {
    keyId,
    seal(plaintext, ownerId) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(ownerId));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return [VERSION, keyId, iv.toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed, ownerId) {
      const [version, id, ivText, bodyText, extra] = typeof sealed === 'string' ? sealed.split('.') : [];
      if (version !== VERSION || !ivText || !bodyText || extra !== undefined) throw new AppError('internal', { detail: 'sealed identity secret has an unknown format' });
      if (id !== keyId) throw new AppError('internal', { detail: `sealed identity secret was sealed with another identity key (${id ?? '?'}, this node has ${keyId})` });
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new AppError('internal', { detail: 'sealed identity secret is truncated' });
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(ownerId));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new AppError('internal', { detail: 'sealed identity secret failed authentication (altered, or sealed for another user)' });
      }
    },
  };
}
