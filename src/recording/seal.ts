import { AppError } from '../core/index.js';
import type { RecordingContext } from './context.js';
import { signManifest } from './manifest.js';
import type { RecordingRecord } from './recording-store.js';
import type { ChunkInfo, SealResult } from './types.js';

export interface SealInput {
  complete: boolean;
  incompleteReason: string | null;
  endedAtMs: number;
  durationMs: number;
  /** Every chunk written, ascending: the manifest lists exactly these. */
  chunks: readonly ChunkInfo[];
  /** Those of `chunks` whose row is not in the database yet (the last one; at recovery, those found on disk). */
  withoutRow: readonly ChunkInfo[];
  searchText?: string | undefined;
}

/**
 * Writes the signed manifest, records `recording.sealed` with its SHA-256,
 * then marks the row sealed. When the manifest or the audit event cannot be
 * written the row stays `recording`, so `recover()` seals it later.
 */
export async function sealRecording(ctx: RecordingContext, row: RecordingRecord, input: SealInput): Promise<SealResult> {
  const bytes = input.chunks.reduce((n, c) => n + c.bytes, 0);
  const { bytes: manifestBytes, sha256 } = signManifest(ctx.signer, {
    recordingId: row.id,
    sessionId: row.session_id,
    assetId: row.asset_id,
    userId: row.user_id,
    nodeId: row.node_id,
    startedAt: new Date(row.started_at_ms).toISOString(),
    endedAt: new Date(input.endedAtMs).toISOString(),
    durationMs: input.durationMs,
    complete: input.complete,
    incompleteReason: input.incompleteReason,
    chunks: [...input.chunks],
  });
  try {
    await ctx.storage.writeManifest(row.id, manifestBytes);
  } catch (error) {
    ctx.logger.error({ err: error, recordingId: row.id }, 'recording: the manifest could not be written; the recording stays unsealed');
    throw new AppError('recording_unavailable', { detail: 'manifest write failed', cause: error });
  }
  const result: SealResult = {
    recordingId: row.id,
    complete: input.complete,
    incompleteReason: input.incompleteReason,
    chunks: input.chunks.length,
    bytes,
    durationMs: input.durationMs,
    manifestSha256: sha256,
  };
  // Through the lane: when many sessions end together, their seals take turns with the requests being served.
  await ctx.lane.run(() => ctx.audit('recording.sealed', 'success', row.id, ctx.system, {
    session: row.session_id,
    assetId: row.asset_id,
    complete: result.complete,
    incompleteReason: result.incompleteReason,
    chunks: result.chunks,
    bytes: result.bytes,
    durationMs: result.durationMs,
    manifestSha256: sha256,
  }));
  const fields = { complete: input.complete, incompleteReason: input.incompleteReason, endedAtMs: input.endedAtMs, durationMs: input.durationMs, manifestSha256: sha256, chunks: input.chunks, withoutRow: input.withoutRow };
  await ctx.lane.run(() => ctx.store.seal(row.id, fields, input.searchText));
  return result;
}
