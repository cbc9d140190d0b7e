import type { Kysely } from 'kysely';
import type { Actor, AuditTrail, DocumentSigner, DocumentVerifier } from '../audit/index.js';
import type { AppError, Clock, IdGenerator } from '../core/index.js';
import type { Tables } from '../store/index.js';

/** One entry of a recording's event track; `t` is milliseconds since the recording started. */
export type RecordingEvent = { t: number } & RecordingEventBody;

/** A {@link RecordingEvent} without its time: what a recorder is handed (the recorder stamps `t`). */
export type RecordingEventBody =
  | { type: 'state'; state: 'starting' | 'logging_in' | 'active' | 'ended'; reason?: string }
  | { type: 'navigated'; tabId: string; url: string; title: string }
  | { type: 'tab'; action: 'opened' | 'closed' | 'switched'; tabId: string; url: string }
  /** `target`: a short description such as `button "Transfer"` or `input[name=amount]`. */
  | { type: 'click'; x: number; y: number; button: string; target: string }
  /** `text` only when the policy allows plain text and the field is not a password field; otherwise no text. */
  | { type: 'keys'; target: string; field: 'password' | 'text'; count: number; text?: string }
  | { type: 'clipboard'; direction: 'copy' | 'paste'; chars: number }
  | { type: 'download'; fileName: string; size: number; sha256: string }
  /** `sizes` and `sha256` (one per file, in order) in recordings since files come from the live view. */
  | { type: 'upload'; fileNames: string[]; sizes?: number[]; sha256?: string[] }
  | { type: 'blocked'; what: string; url?: string; reason: string }
  /** An MCP tool call; the summary never holds a secret. */
  | { type: 'tool'; tool: string; summary: string }
  | { type: 'viewer'; action: 'attached' | 'detached'; mode: 'control' | 'watch'; userId: string };

/** One decoded record of a chunk file. */
export type ChunkRecord =
  | { kind: 'frame'; t: number; width: number; height: number; jpeg: Buffer }
  | { kind: 'event'; t: number; event: RecordingEvent };

/** One frame as `frames()` yields it. */
export interface RecordedFrame {
  t: number;
  width: number;
  height: number;
  jpeg: Buffer;
}

/**
 * Where chunk files and manifests live. `createFileRecordingStorage(dir)` is
 * the one implementation; object storage can be another. Every method
 * validates `id` (a UUID) before it builds a path.
 */
export interface RecordingStorage {
  /** Prepares the recording's place and proves it can be written; rejects when it cannot (disk full, no permission). */
  create(id: string): Promise<void>;
  /** Writes a whole chunk durably (temp file, fsync, rename, fsync of the folder). A chunk is never changed afterwards. */
  writeChunk(id: string, seq: number, bytes: Buffer): Promise<void>;
  /** The chunk's bytes, or null when there is no such chunk. */
  readChunk(id: string, seq: number): Promise<Buffer | null>;
  /** Sequence numbers of the chunks present, ascending. */
  listChunks(id: string): Promise<number[]>;
  /** Writes the manifest durably, like a chunk. */
  writeManifest(id: string, bytes: Buffer): Promise<void>;
  /** The manifest's bytes, or null before the recording is sealed. */
  readManifest(id: string): Promise<Buffer | null>;
  /** Removes the recording's folder and everything in it; no error when absent. */
  remove(id: string): Promise<void>;
}

/** A chunk as the manifest and the database list it. */
export interface ChunkInfo {
  seq: number;
  sha256: string;
  bytes: number;
  startMs: number;
  endMs: number;
  frames: number;
  events: number;
}

/** The signed manifest written at seal (`manifest.json`), canonical JSON. */
export interface RecordingManifest {
  type: 'webasset.recording.manifest.v1';
  recordingId: string;
  sessionId: string;
  assetId: string;
  userId: string;
  nodeId: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  durationMs: number;
  complete: boolean;
  incompleteReason: string | null;
  chunks: ChunkInfo[];
  keyId: string;
  signature: string;
}

export type RecordingState = 'recording' | 'sealed' | 'deleted';

/** A recording's metadata as callers see it (times as ISO text, like every record of the API). */
export interface RecordingSummary {
  id: string;
  sessionId: string;
  assetId: string;
  userId: string;
  nodeId: string;
  startedAt: string;
  endedAt: string | null;
  state: RecordingState;
  /** Null while recording. */
  complete: boolean | null;
  incompleteReason: string | null;
  chunks: number;
  bytes: number;
  frames: number;
  events: number;
  durationMs: number;
  manifestSha256: string | null;
  retentionDays: number;
  legalHold: boolean;
}

export interface RecordingListFilter {
  userId?: string | undefined;
  assetId?: string | undefined;
  /** Epoch ms: recordings that overlap [from, to]. */
  from?: number | undefined;
  to?: number | undefined;
  /** Case-insensitive text searched in the URLs, titles and event targets. */
  text?: string | undefined;
  /** Visibility: only recordings of these assets (an empty list sees nothing). Absent: all. */
  assetIds?: readonly string[] | undefined;
  /** 1–200, default 50. */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface RecordingPage {
  items: RecordingSummary[];
  nextCursor: string | null;
}

export interface ChunkVerification {
  seq: number;
  ok: boolean;
  problem?: string;
}

export interface VerifyReport {
  ok: boolean;
  recordingId: string;
  complete: boolean;
  /** Key id of the manifest's signature, null when there is no readable manifest. */
  keyId: string | null;
  chunks: ChunkVerification[];
  /** Every problem found, each naming the chunk or the manifest. */
  problems: string[];
}

export interface SealResult {
  recordingId: string;
  complete: boolean;
  incompleteReason: string | null;
  chunks: number;
  bytes: number;
  durationMs: number;
  /** SHA-256 of the manifest file, also in the audit event `recording.sealed`. */
  manifestSha256: string;
}

/** The request facts an audited change carries. */
export interface RecordingCallContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/** One session's recording while it runs. */
export interface Recorder {
  readonly recordingId: string;
  /** Adds a full JPEG frame (the page viewport in CSS px); `t` comes from the clock. Byte-identical consecutive frames are skipped. Never throws. */
  frame(jpeg: Buffer, width: number, height: number): void;
  /** Adds an event; `t` comes from the clock. A password field's `keys` never keeps text. Never throws. */
  event(e: RecordingEventBody): void;
  /** Called once when a write fails (storage error, disk full); after that nothing more is written. */
  onFailure(listener: (error: AppError) => void): void;
  /**
   * Flushes, writes the signed manifest, audits `recording.sealed`. After a
   * write failure the recording is sealed incomplete (`storage_failed`).
   * Rejects with `recording_unavailable` when the manifest cannot be written
   * (the row stays `recording`; `recover()` at the next start seals it).
   * A second call returns the first call's result.
   */
  seal(outcome: { complete: boolean; incompleteReason?: string | undefined }): Promise<SealResult>;
}

export interface RecordingsLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface RecordingsDeps {
  db: Kysely<Tables>;
  storage: RecordingStorage;
  trail: AuditTrail;
  signer: DocumentSigner;
  verifier: DocumentVerifier;
  clock: Clock;
  ids: IdGenerator;
  nodeId: string;
  logger: RecordingsLogger;
  /** A chunk is written at least this often while there is something to write (default 2000). */
  flushIntervalMs?: number | undefined;
  /** A chunk is written as soon as its records reach this size (default 1 MiB). */
  maxChunkBytes?: number | undefined;
}

export interface BeginInfo {
  sessionId: string;
  assetId: string;
  userId: string;
  retentionDays: number;
}

export interface Recordings {
  /** Starts one session's recording; rejects with `recording_unavailable` (503) when storage cannot be written. */
  begin(info: BeginInfo): Promise<Recorder>;
  /** Seals recordings this node left unsealed (crash): complete=false, incompleteReason `node_restart`. Call once at start. */
  recover(): Promise<number>;
  list(filter: RecordingListFilter): Promise<RecordingPage>;
  /** Null for an unknown, malformed or deleted id. */
  get(id: string): Promise<RecordingSummary | null>;
  /** The event track, read from the chunks (each hash-checked). */
  events(id: string): Promise<RecordingEvent[]>;
  /** Frames from `fromMs` on: the first is the last frame at or before `fromMs`. */
  frames(id: string, fromMs: number): AsyncIterable<RecordedFrame>;
  /** The signed manifest file's bytes as stored; null while recording, or for an unknown, malformed or deleted id. */
  manifest(id: string): Promise<Buffer | null>;
  /**
   * A chunk file's bytes as stored, unchecked (an evidence bundle carries them
   * as they are, so `verify` finds a changed byte); null for an unknown chunk,
   * or an unknown, malformed or deleted id.
   */
  chunk(id: string, seq: number): Promise<Buffer | null>;
  /** Checks every chunk hash and the manifest signature. */
  verify(id: string): Promise<VerifyReport>;
  /** Checks an evidence bundle `<dir>/recording/` (chunks + manifest.json) with the configured public keys. */
  verifyBundle(path: string): Promise<VerifyReport>;
  /** Deletes early (administrator, reason required); refused with `legal_hold` (409) when held. */
  delete(id: string, by: Actor, reason: string, context?: RecordingCallContext): Promise<void>;
  setLegalHold(id: string, hold: boolean, by: Actor, reason: string, context?: RecordingCallContext): Promise<void>;
  /** Deletes sealed recordings past their retention and not held; each audited `recording.expired`. */
  sweepRetention(): Promise<number>;
  /** Runs `sweepRetention` now and every `intervalMs` (default hourly), on an unref'd timer; returns the stop function. */
  startRetentionJob(intervalMs?: number): () => void;
}
