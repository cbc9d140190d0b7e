import { AppError } from '../core/index.js';
import type { RecordingContext } from './context.js';
import { encodeChunk } from './format.js';
import { describeChunk } from './manifest.js';
import type { RecordingRecord } from './recording-store.js';
import { sealRecording } from './seal.js';
import { createSearchText } from './search-text.js';
import type { ChunkInfo, ChunkRecord, Recorder, RecordingEventBody, SealResult } from './types.js';

/** Length prefix + kind + t (+ width/height for a frame): what a record adds to a chunk besides its payload. */
const RECORD_OVERHEAD = 13;
const MAX_T = 0xffff_ffff;
/** Longest text kept per event field, and most entries per list (file names). */
const MAX_TEXT = 4096;
const MAX_LIST = 100;

/**
 * One session's recording: buffers records and writes a whole chunk at
 * least every `flushIntervalMs` or at `maxChunkBytes`, one write at a time,
 * in order. A failed write stops the recording (`onFailure`); nothing here
 * throws into the session that feeds it.
 */
export function createRecorder(ctx: RecordingContext, row: RecordingRecord): Recorder {
  const id = row.id;
  const startedAtMs = row.started_at_ms;
  const search = createSearchText();
  const written: ChunkInfo[] = [];
  /** Chunks whose row is in the database; the seal writes the rows of the others. */
  const rowed = new Set<number>();
  const listeners: Array<(error: AppError) => void> = [];
  let records: ChunkRecord[] = [];
  let buffered = 0;
  let lastFrame: Buffer | null = null;
  let lastT = 0;
  let seq = 0;
  let failure: AppError | null = null;
  let closed = false;
  let writing: Promise<void> = Promise.resolve();
  let sealing: Promise<SealResult> | undefined;

  const timer = setInterval(() => flush(), ctx.flushIntervalMs);
  timer.unref();

  /** Milliseconds since the start, never going back (seeking relies on ordered records). */
  function now(): number {
    const t = Math.min(MAX_T, Math.max(lastT, Math.floor(ctx.clock.now() - startedAtMs)));
    lastT = t;
    return t;
  }

  function accepting(): boolean {
    return failure === null && !closed;
  }

  function add(record: ChunkRecord, size: number): void {
    records.push(record);
    buffered += size + RECORD_OVERHEAD;
    if (buffered >= ctx.maxChunkBytes) flush();
  }

  /**
   * Writes what is buffered as the next chunk. The last chunk (`row: false`, at the seal) gets its
   * row in the seal's transaction instead of one of its own, and its search terms with it.
   */
  function flush(options: { row: boolean } = { row: true }): void {
    if (records.length === 0 || failure) return;
    const batch = records;
    const terms = options.row ? search.takeChanged() : undefined;
    records = [];
    buffered = 0;
    const chunkSeq = ++seq;
    writing = writing.then(() => writeChunk(chunkSeq, batch, terms, options.row));
  }

  async function writeChunk(chunkSeq: number, batch: ChunkRecord[], terms: string | undefined, withRow: boolean): Promise<void> {
    if (failure) return;
    let stage: 'storage' | 'database' = 'storage';
    try {
      const bytes = encodeChunk(batch);
      const info = describeChunk(chunkSeq, bytes, {
        frames: batch.filter((r) => r.kind === 'frame').length,
        events: batch.filter((r) => r.kind === 'event').length,
        startMs: batch[0]!.t,
        endMs: batch.at(-1)!.t,
      });
      await ctx.storage.writeChunk(id, chunkSeq, bytes);
      // The file is in place: the manifest lists it even if its row cannot be written now.
      written.push(info);
      if (!withRow) return;
      stage = 'database';
      await ctx.lane.run(() => ctx.store.addChunk(id, info, terms));
      rowed.add(chunkSeq);
    } catch (error) {
      await fail(error, chunkSeq, stage);
    }
  }

  async function fail(error: unknown, chunkSeq: number, stage: 'storage' | 'database'): Promise<void> {
    if (failure) return;
    failure = new AppError('recording_unavailable', { detail: `chunk ${chunkSeq} of recording ${id}: ${stage} write failed`, cause: error });
    clearInterval(timer);
    records = [];
    ctx.logger.error({ err: error, recordingId: id, session: row.session_id, seq: chunkSeq, stage }, 'recording: a write failed; the recording stops here');
    for (const listener of listeners.splice(0)) notify(listener);
    try {
      await ctx.audit('recording.failed', 'failure', id, ctx.system, {
        session: row.session_id,
        assetId: row.asset_id,
        seq: chunkSeq,
        reason: stage === 'storage' ? 'storage_error' : 'database_error',
      });
    } catch (auditError) {
      ctx.logger.error({ err: auditError, recordingId: id }, 'recording: recording.failed could not be audited');
    }
  }

  function notify(listener: (error: AppError) => void): void {
    try {
      listener(failure!);
    } catch (error) {
      ctx.logger.error({ err: error, recordingId: id }, 'recording: a failure listener threw');
    }
  }

  async function seal(outcome: { complete: boolean; incompleteReason?: string | undefined }): Promise<SealResult> {
    closed = true;
    clearInterval(timer);
    flush({ row: false });
    await writing;
    const failed = failure !== null;
    const endedAtMs = Math.max(ctx.clock.now(), startedAtMs);
    const complete = outcome.complete && !failed;
    const incompleteReason = failed ? 'storage_failed' : complete ? null : cleanReason(outcome.incompleteReason);
    return sealRecording(ctx, row, {
      complete,
      incompleteReason,
      endedAtMs,
      durationMs: Math.max(endedAtMs - startedAtMs, written.at(-1)?.endMs ?? 0),
      chunks: written,
      withoutRow: written.filter((c) => !rowed.has(c.seq)),
      searchText: search.takeChanged(),
    });
  }

  return {
    recordingId: id,
    frame(jpeg, width, height) {
      try {
        if (!accepting() || !Buffer.isBuffer(jpeg) || jpeg.length === 0) return;
        if (lastFrame !== null && lastFrame.equals(jpeg)) return;
        lastFrame = jpeg;
        add({ kind: 'frame', t: now(), width: side(width), height: side(height), jpeg }, jpeg.length);
      } catch (error) {
        ctx.logger.warn({ err: error, recordingId: id }, 'recording: a frame was dropped');
      }
    },
    event(e) {
      try {
        if (!accepting() || e === null || typeof e !== 'object') return;
        const body = sanitize(e);
        search.add(body);
        const t = now();
        const size = Buffer.byteLength(JSON.stringify(body));
        add({ kind: 'event', t, event: { ...body, t } }, size);
      } catch (error) {
        ctx.logger.warn({ err: error, recordingId: id }, 'recording: an event was dropped');
      }
    },
    onFailure(listener) {
      if (failure) queueMicrotask(() => notify(listener));
      else listeners.push(listener);
    },
    seal(outcome) {
      sealing ??= seal(outcome).catch((error: unknown) => {
        // A later call may try again (the manifest write may work then).
        sealing = undefined;
        throw error;
      });
      return sealing;
    },
  };
}

/**
 * A password field never keeps text, whatever the caller passed (defence in
 * depth behind the browser's masking); text fields are capped so one event
 * (a data: URL, a huge title) cannot swell a chunk.
 */
function sanitize(e: RecordingEventBody): RecordingEventBody {
  let body: RecordingEventBody = e;
  if (body.type === 'keys' && body.field !== 'text' && 'text' in body) {
    const { text: _dropped, ...rest } = body;
    body = rest;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body) as Array<[string, unknown]>) {
    if (typeof value === 'string') out[key] = capText(value);
    else if (Array.isArray(value)) out[key] = (value as unknown[]).slice(0, MAX_LIST).map((v) => (typeof v === 'string' ? capText(v) : v));
    else out[key] = value;
  }
  return out as RecordingEventBody;
}

function capText(value: string): string {
  return value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}…` : value;
}

function side(value: number): number {
  return Number.isFinite(value) ? Math.min(0xffff, Math.max(0, Math.round(value))) : 0;
}

function cleanReason(reason: string | undefined): string {
  const text = typeof reason === 'string' ? reason.replace(/\p{Cc}/gu, ' ').trim().slice(0, 100) : '';
  return text === '' ? 'unknown' : text;
}
