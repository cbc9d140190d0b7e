import type { RecordingContext } from './context.js';
import { decodeChunk } from './format.js';
import { describeChunk } from './manifest.js';
import type { RecordingRecord } from './recording-store.js';
import { sealRecording } from './seal.js';
import { createSearchText } from './search-text.js';
import type { ChunkInfo } from './types.js';

export const NODE_RESTART = 'node_restart';

/**
 * Seals the recordings this node left unsealed: incomplete, `node_restart`.
 * A chunk file renamed into place whose row was not written before the crash
 * is hashed now and listed; a file that does not decode is left out (and
 * `verify` then names it).
 */
export async function recoverRecordings(ctx: RecordingContext): Promise<number> {
  let sealed = 0;
  for (const row of await ctx.store.unsealed(ctx.nodeId)) {
    try {
      await recoverOne(ctx, row);
      sealed++;
    } catch (error) {
      ctx.logger.error({ err: error, recordingId: row.id }, 'recording: an unsealed recording could not be sealed at start');
    }
  }
  if (sealed > 0) ctx.logger.warn({ sealed, reason: NODE_RESTART }, 'recording: recordings left unsealed by a stop without shutdown were sealed incomplete');
  return sealed;
}

async function recoverOne(ctx: RecordingContext, row: RecordingRecord): Promise<void> {
  const known = await ctx.store.chunks(row.id);
  const byseq = new Map(known.map((c) => [c.seq, c]));
  const search = createSearchText(row.search_text);
  for (const seq of await ctx.storage.listChunks(row.id)) {
    if (byseq.has(seq)) continue;
    const bytes = await ctx.storage.readChunk(row.id, seq);
    if (bytes === null) continue;
    let info: ChunkInfo;
    try {
      const records = decodeChunk(bytes);
      if (records.length === 0) continue;
      for (const r of records) if (r.kind === 'event') search.add(r.event);
      info = describeChunk(seq, bytes, {
        frames: records.filter((r) => r.kind === 'frame').length,
        events: records.filter((r) => r.kind === 'event').length,
        startMs: records[0]!.t,
        endMs: records.at(-1)!.t,
      });
    } catch (error) {
      ctx.logger.error({ err: error, recordingId: row.id, seq }, 'recording: a chunk file found at recovery does not decode; it is left out of the manifest');
      continue;
    }
    byseq.set(seq, info);
  }
  const chunks = [...byseq.values()].sort((a, b) => a.seq - b.seq);
  const rowed = new Set(known.map((c) => c.seq));
  const durationMs = Math.max(row.duration_ms, ...chunks.map((c) => c.endMs));
  await sealRecording(ctx, row, {
    complete: false,
    incompleteReason: NODE_RESTART,
    endedAtMs: row.started_at_ms + durationMs,
    durationMs,
    chunks,
    withoutRow: chunks.filter((c) => !rowed.has(c.seq)),
    searchText: search.takeChanged(),
  });
}
