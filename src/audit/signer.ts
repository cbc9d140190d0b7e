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
  const { privateKey, rawPublic, keyId } = privateKeyOf(seedBase64);
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
  const keys = publicKeysOf(publicKeysBase64);
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

/** A signed JSON document (a recording manifest): its fields, the signing key's id and the signature. */
export type SignedDocument<T extends Record<string, unknown>> = T & { type: string; keyId: string; signature: string };

/**
 * Signs JSON documents with the same Ed25519 key as the audit checkpoints.
 * The signed payload is `canonicalJson({ type, ...fields, keyId })`: the
 * document without its `signature`, so anyone with the public key can check it.
 */
export interface DocumentSigner {
  readonly keyId: string;
  /** Raw 32-byte public key, base64: safe to publish. */
  readonly publicKey: string;
  sign<T extends Record<string, unknown>>(type: string, fields: T): SignedDocument<T>;
}

export type DocumentCheck = 'ok' | 'unknown_key' | 'bad_signature' | 'malformed';

export interface DocumentVerifier {
  /** Key ids this verifier trusts. */
  readonly keyIds: readonly string[];
  /** 'ok', or why the document does not verify (`malformed`: no keyId or signature text). */
  check(document: Record<string, unknown>): DocumentCheck;
}

export function createDocumentSigner(seedBase64: string): DocumentSigner {
  const { privateKey, rawPublic, keyId } = privateKeyOf(seedBase64);
  return {
    keyId,
    publicKey: rawPublic.toString('base64'),
    sign(type, fields) {
      const unsigned = { ...fields, type, keyId };
      const signature = sign(null, Buffer.from(canonicalJson(unsigned)), privateKey).toString('base64');
      return { ...unsigned, signature };
    },
  };
}

export function createDocumentVerifier(publicKeysBase64: readonly string[]): DocumentVerifier {
  const keys = publicKeysOf(publicKeysBase64);
  return {
    keyIds: [...keys.keys()],
    check(document) {
      const { signature, ...unsigned } = document;
      if (typeof signature !== 'string' || typeof unsigned.keyId !== 'string' || typeof unsigned.type !== 'string') return 'malformed';
      const key = keys.get(unsigned.keyId);
      if (!key) return 'unknown_key';
      let payload: string;
      try {
        payload = canonicalJson(unsigned);
      } catch {
        return 'malformed';
      }
      return verify(null, Buffer.from(payload), key, Buffer.from(signature, 'base64')) ? 'ok' : 'bad_signature';
    },
  };
}

/** The key id (first 16 hex digits of the SHA-256 of the raw key) of a base64 public key, as signers report it. */
export function publicKeyId(publicKeyBase64: string): string {
  return keyIdOf(Buffer.from(publicKeyBase64, 'base64'));
}

function privateKeyOf(seedBase64: string): { privateKey: KeyObject; rawPublic: Buffer; keyId: string } {
  const seed = Buffer.from(seedBase64, 'base64');
  if (seed.length !== 32) throw new TypeError('the audit signing key must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const rawPublic = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return { privateKey, rawPublic, keyId: keyIdOf(rawPublic) };
}

function publicKeysOf(publicKeysBase64: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const b64 of publicKeysBase64) {
    const raw = Buffer.from(b64, 'base64');
    keys.set(keyIdOf(raw), createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }));
  }
  return keys;
}

function keyIdOf(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}
