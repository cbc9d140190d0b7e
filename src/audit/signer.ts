import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../core/index.js';
import type { CheckpointRecord } from './event.js';

/** Signs and checks audit checkpoints with Ed25519, so an export can be checked without the private key. */
export interface CheckpointSigner {
  readonly keyId: string;
  /** Raw 32-byte public key, base64: safe to publish. */
  readonly publicKey: string;
  sign(fields: Omit<CheckpointRecord, 'signature' | 'keyId'>): CheckpointRecord;
}

export interface CheckpointVerifier {
  /** Key ids this verifier trusts. */
  readonly keyIds: readonly string[];
  /** 'ok', or why the checkpoint does not verify. */
  check(checkpoint: CheckpointRecord): 'ok' | 'unknown_key' | 'bad_signature';
}

// DER prefixes of PKCS#8 / SPKI for Ed25519 (RFC 8410): the raw 32 bytes follow.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function createCheckpointSigner(seedBase64: string): CheckpointSigner {
  const seed = Buffer.from(seedBase64, 'base64');
  if (seed.length !== 32) throw new TypeError('the audit signing key must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const rawPublic = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const keyId = keyIdOf(rawPublic);
  return {
    keyId,
    publicKey: rawPublic.toString('base64'),
    sign(fields) {
      const unsigned = { ...fields, keyId };
      const signature = sign(null, Buffer.from(checkpointPayload(unsigned)), privateKey).toString('base64');
      return { ...unsigned, signature };
    },
  };
}

export function createCheckpointVerifier(publicKeysBase64: readonly string[]): CheckpointVerifier {
  const keys = new Map<string, KeyObject>();
  for (const b64 of publicKeysBase64) {
    const raw = Buffer.from(b64, 'base64');
    keys.set(keyIdOf(raw), createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }));
  }
  return {
    keyIds: [...keys.keys()],
    check(checkpoint) {
      const key = keys.get(checkpoint.keyId);
      if (!key) return 'unknown_key';
      const { signature, ...unsigned } = checkpoint;
      const ok = verify(null, Buffer.from(checkpointPayload(unsigned)), key, Buffer.from(signature, 'base64'));
      return ok ? 'ok' : 'bad_signature';
    },
  };
}

function checkpointPayload(fields: Omit<CheckpointRecord, 'signature'>): string {
  return canonicalJson({
    type: 'webasset.audit.checkpoint.v1',
    seq: fields.seq,
    hash: fields.hash,
    timeMs: fields.timeMs,
    nodeId: fields.nodeId,
    keyId: fields.keyId,
  });
}

function keyIdOf(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}
