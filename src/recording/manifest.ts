import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DocumentSigner } from '../audit/index.js';
import { canonicalJson } from '../core/index.js';
import type { ChunkInfo, RecordingManifest } from './types.js';

export const MANIFEST_TYPE = 'webasset.recording.manifest.v1';

export type ManifestFields = Omit<RecordingManifest, 'type' | 'keyId' | 'signature'>;

/** The manifest file's bytes (canonical JSON of the signed document) and their SHA-256. */
export function signManifest(signer: DocumentSigner, fields: ManifestFields): { bytes: Buffer; sha256: string } {
  const signed = signer.sign(MANIFEST_TYPE, { ...fields });
  const bytes = Buffer.from(canonicalJson(signed), 'utf8');
  return { bytes, sha256: sha256Hex(bytes) };
}

const nonNegative = z.number().int().min(0);
const chunkSchema = z.strictObject({
  seq: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: nonNegative,
  startMs: nonNegative,
  endMs: nonNegative,
  frames: nonNegative,
  events: nonNegative,
});
const manifestSchema = z.strictObject({
  type: z.literal(MANIFEST_TYPE),
  recordingId: z.string(),
  sessionId: z.string(),
  assetId: z.string(),
  userId: z.string(),
  nodeId: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  durationMs: nonNegative,
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  chunks: z.array(chunkSchema),
  keyId: z.string(),
  signature: z.string(),
});

/** The parsed manifest, or why the bytes are not one (never throws). */
export function parseManifest(bytes: Buffer): { manifest: RecordingManifest; raw: Record<string, unknown> } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: 'manifest.json is not valid JSON' };
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { problem: `manifest.json is not a recording manifest (${first ? `${first.path.join('.') || 'document'}: ${first.message}` : 'invalid'})` };
  }
  return { manifest: parsed.data, raw: raw as Record<string, unknown> };
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function describeChunk(seq: number, bytes: Buffer, records: { frames: number; events: number; startMs: number; endMs: number }): ChunkInfo {
  return { seq, sha256: sha256Hex(bytes), bytes: bytes.length, ...records };
}
