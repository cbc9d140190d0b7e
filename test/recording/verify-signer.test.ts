import { describe, expect, it } from 'vitest';
import {
  createCheckpointSigner,
  createDocumentSigner,
  createDocumentVerifier,
  publicKeyId,
} from '../../src/audit/index.js';
import { TEST_SIGNING_KEY } from '../support/audit-fixtures.js';

const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');

describe('document signer', () => {
  it('uses the audit signing key: same public key and key id as the checkpoint signer', () => {
    const doc = createDocumentSigner(TEST_SIGNING_KEY);
    const checkpoint = createCheckpointSigner(TEST_SIGNING_KEY);
    expect(doc.publicKey).toBe(checkpoint.publicKey);
    expect(doc.keyId).toBe(checkpoint.keyId);
    expect(doc.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(publicKeyId(doc.publicKey)).toBe(doc.keyId);
    expect(Buffer.from(doc.publicKey, 'base64')).toHaveLength(32);
  });

  it('signs type + fields + keyId; the verifier accepts it and refuses an edit, another key, or no signature', () => {
    const signer = createDocumentSigner(TEST_SIGNING_KEY);
    const verifier = createDocumentVerifier([signer.publicKey]);
    const signed = signer.sign('webasset.recording.manifest.v1', { recordingId: 'r', chunks: [{ seq: 1, sha256: 'ab' }] });
    expect(signed).toMatchObject({ type: 'webasset.recording.manifest.v1', keyId: signer.keyId, recordingId: 'r' });
    expect(verifier.check(signed)).toBe('ok');
    expect(verifier.check(JSON.parse(JSON.stringify(signed)) as Record<string, unknown>)).toBe('ok');
    expect(verifier.check({ ...signed, recordingId: 's' })).toBe('bad_signature');
    expect(verifier.check({ ...signed, type: 'other' })).toBe('bad_signature');
    expect(verifier.check({ ...signed, chunks: [{ seq: 1, sha256: 'ac' }] })).toBe('bad_signature');
    const other = createDocumentSigner(OTHER_KEY).sign('webasset.recording.manifest.v1', { recordingId: 'r' });
    expect(verifier.check(other)).toBe('unknown_key');
    expect(createDocumentVerifier([signer.publicKey, createDocumentSigner(OTHER_KEY).publicKey]).check(other)).toBe('ok');
    const { signature: _s, ...unsigned } = signed;
    expect(verifier.check(unsigned)).toBe('malformed');
    expect(verifier.keyIds).toEqual([signer.keyId]);
  });

  it('refuses a seed that is not 32 bytes', () => {
    expect(() => createDocumentSigner(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
