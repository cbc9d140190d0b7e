import { AppError } from '../core/index.js';
import type { RecordingContext } from './context.js';
import { decodeChunk } from './format.js';
import { sha256Hex } from './manifest.js';
import type { ChunkInfo, ChunkRecord, RecordedFrame, RecordingEvent } from './types.js';

/** A chunk's records after its hash was checked against the one recorded when it was written. */
export async function readChunkChecked(ctx: RecordingContext, id: string, chunk: ChunkInfo): Promise<ChunkRecord[]> {
  const bytes = await ctx.storage.readChunk(id, chunk.seq);
  if (bytes === null || sha256Hex(bytes) !== chunk.sha256) {
    ctx.logger.error({ recordingId: id, seq: chunk.seq, missing: bytes === null }, 'recording: a chunk is missing or failed its hash check');
    throw new AppError('internal', {
      publicMessage: `Chunk ${chunk.seq} of this recording is missing or altered; run verify on it.`,
      detail: `recording ${id} chunk ${chunk.seq} ${bytes === null ? 'missing' : 'hash mismatch'}`,
    });
  }
  return decodeChunk(bytes);
}

export async function readEvents(ctx: RecordingContext, id: string, chunks: readonly ChunkInfo[]): Promise<RecordingEvent[]> {
  const events: RecordingEvent[] = [];
  for (const chunk of chunks) {
    if (chunk.events === 0) continue;
    for (const r of await readChunkChecked(ctx, id, chunk)) if (r.kind === 'event') events.push(r.event);
  }
  return events;
}

/**
 * Frames from `fromMs` on. Chunks are whole JPEG frames in time order, so the
 * first frame is found by the chunk list alone (the last chunk starting at or
 * before `fromMs`, or an earlier one when that chunk has no frame yet) and
 * only the chunks from there are read.
 */
export async function* readFrames(ctx: RecordingContext, id: string, chunks: readonly ChunkInfo[], fromMs: number): AsyncGenerator<RecordedFrame> {
  let at = lastIndex(chunks, (c) => c.startMs <= fromMs);
  if (at < 0) at = 0;
  let first: RecordedFrame | null = null;
  const later: RecordedFrame[] = [];
  for (let i = at; i >= 0 && first === null; i--) {
    if (chunks[i]!.frames === 0) continue;
    const frames = framesOf(await readChunkChecked(ctx, id, chunks[i]!));
    const before = frames.filter((f) => f.t <= fromMs);
    first = before.at(-1) ?? null;
    if (i === at) later.push(...frames.filter((f) => f.t > fromMs));
  }
  if (first) yield first;
  yield* later;
  for (let i = at + 1; i < chunks.length; i++) {
    if (chunks[i]!.frames === 0) continue;
    yield* framesOf(await readChunkChecked(ctx, id, chunks[i]!));
  }
}

function framesOf(records: readonly ChunkRecord[]): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  for (const r of records) if (r.kind === 'frame') frames.push({ t: r.t, width: r.width, height: r.height, jpeg: r.jpeg });
  return frames;
}

function lastIndex<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return i;
  return -1;
}
