import type { Kysely } from 'kysely';
import type { Access, AssetRecord, RequestContext } from '../access/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Readable } from 'node:stream';
import type { AgentActionResult, AgentControls, BrowserPool, BrowserSession, RedactionSource, UploadedFile, UploadFile } from '../browser/index.js';
import type { Clock, IdGenerator } from '../core/index.js';
import type { Recordings } from '../recording/index.js';
import type { Principal } from '../identity/index.js';
import type { Tables } from '../store/index.js';
import type { VaultReader } from '../vault/index.js';

export const SESSION_STATES = ['starting', 'logging_in', 'active', 'ended'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const END_REASONS = ['user', 'idle_timeout', 'max_duration', 'admin', 'login_failed', 'browser_crashed', 'shutdown', 'node_restart', 'recording_failed'] as const;
export type EndReason = (typeof END_REASONS)[number];

/** A governed browser session as callers see it (timestamps as ISO text, like every record of the API). */
export interface SessionRecord {
  id: string;
  assetId: string;
  /** The principal that started it: a user id, or `token:<id>` for a role token. */
  userId: string;
  principalKind: 'user' | 'agent';
  state: SessionState;
  endReason: EndReason | null;
  /** The failed step of a login, the administrator's reason, or what went wrong; never a value. */
  endMessage: string | null;
  createdAt: string;
  activeAt: string | null;
  endedAt: string | null;
  lastInputAt: string;
  /** The node whose browser holds it. */
  nodeId: string;
  /** Vault entry id of the credential it logged in with. */
  credential: string | null;
}

/** The live handle the live view works through (owner: control; `watch` on the asset: watch). */
export interface AttachedSession {
  record: SessionRecord;
  browser: BrowserSession;
  /** Counts as input for the idle timeout. */
  touch(): void;
  /**
   * The check `attach` made, made again now (`connect` for the owner, `watch` for anyone else): an open view lives
   * only as long as it holds. A refusal is recorded (auth.denied, with its reason) and thrown as `not_found`; a
   * store that cannot answer throws its own error. `viewer`: the viewer as they are now (fresh roles and groups);
   * the principal they attached as when absent. Another user's principal is refused.
   */
  recheck(viewer?: Principal): Promise<void>;
  /** Called once when the session ends; returns the unsubscribe function, which also records the viewer as gone (recording event `viewer` detached). */
  onEnd(listener: (reason: EndReason) => void): () => void;
  /** Control views only (the owner): downloads kept for them and file choosers waiting for their files. */
  transfers?: AttachedTransfers;
}

/** What the owner's live view is told of (docs/live-view.md: `download`, `download_dropped`, `file_chooser`, `file_chooser_closed`). */
export type TransferNotice =
  | { type: 'download'; id: string; fileName: string; size: number; sha256: string }
  | { type: 'download_dropped'; id?: string; fileName: string; reason: 'session_limit' | 'too_large' | 'failed' }
  | { type: 'file_chooser'; id: string; multiple: boolean; accept: string[] }
  | { type: 'file_chooser_closed'; id: string };

export interface AttachedTransfers {
  /** What is there now (kept downloads, the waiting chooser), then each change; returns the unsubscribe function. */
  subscribe(listener: (notice: TransferNotice) => void): () => void;
  /** Answers the waiting chooser `id` with no file (`not_found`, `file_chooser_closed`, `session_ended` otherwise). */
  cancelChooser(id: string): Promise<void>;
}

/** A kept download as its owner fetches it: the stream must be read to its end or destroyed. */
export interface FetchedDownload {
  fileName: string;
  size: number;
  sha256: string;
  stream: Readable;
}

/** The owner's handle for an agent's tool calls (MCP). */
export interface AgentHandle {
  readonly record: SessionRecord;
  /** The browser's agent controls; each call counts as input (idle timeout) and fails with the end reason once the session ended. */
  controls: AgentControls;
  /** The session credential's values (one vault read per session, purpose `redact`), wiped at the session's end. */
  redact: RedactionSource;
  /**
   * Reads the credential (vault purpose `fill_credential`, audited), types one field's value into
   * `ref` and wipes it. `field`: `username`, `password`, `totp` (the code computed now from
   * `totpSeed`) or another field's name. The result holds target and field kind only.
   */
  fillCredential(ref: string, field: string, context?: RequestContext): Promise<AgentActionResult>;
  /** Adds the recording event `{ type: 'tool', tool, summary }`; the summary is redacted and capped. */
  recordTool(tool: string, summary: string): void;
  /** File choosers the session's pages opened by themselves, outside the agent's actions, dismissed since the last call (browser SessionTransfers). */
  takeChoosersDismissed(): number;
}

export interface BrowserSessions {
  /** Decides `connect`, holds the asset's and the credential's limits, records, opens a context and logs in. Resolves once active. */
  start(principal: Principal, assetId: string, context?: RequestContext): Promise<SessionRecord>;
  /**
   * The session when `principal` owns it, may read every session (`admin.sessions.read`) or holds `watch` on its asset; `not_found` otherwise.
   * A token's own session (seen by none of the other two) only while it may still connect to its asset, as `list` (refused: `not_found`, recorded as `auth.denied`).
   */
  get(id: string, principal: Principal, context?: RequestContext): Promise<SessionRecord>;
  /** The caller's own sessions, newest first; with `all`, everyone's (needs `admin.sessions.read`, refusal audited). */
  list(principal: Principal, options?: { all?: boolean | undefined }, context?: RequestContext): Promise<SessionRecord[]>;
  /** Ends it: the owner with reason `user`, someone holding `admin.sessions.revoke` with `admin` (and `message`). */
  end(id: string, principal: Principal, options?: { message?: string | undefined }, context?: RequestContext): Promise<SessionRecord>;
  attach(id: string, principal: Principal, mode: 'control' | 'watch', context?: RequestContext): Promise<AttachedSession>;
  /**
   * The owner's (the principal that started it) handle for tool calls: no attach audit, no viewer
   * event. Not the owner: `not_found`; held by another node: `not_found`; ended: `session_ended`
   * whose message says why (an administrator, the idle timeout, ...); still starting: `conflict`.
   */
  agent(id: string, principal: Principal, context?: RequestContext): Promise<AgentHandle>;
  /**
   * Ends (reason `admin`, audited under `by`, or the system when null) every session of a user whose
   * access was revoked: theirs, and on this node those an agent runs on their behalf. Returns the count.
   */
  endAllOfUser(userId: string, by: Principal | null, reason: string, context?: RequestContext): Promise<number>;
  /**
   * A download kept for the session's owner (`GET /api/sessions/{id}/downloads/{downloadId}`): the
   * owner only, while it may still connect to the asset (as for its control view; refused: recorded as
   * `auth.denied`); anyone else, an unknown id, an ended session or one held by another node: `not_found`.
   * Recorded (`browser_session.download_fetched`) before the file is opened; not recorded, not sent.
   */
  fetchDownload(id: string, downloadId: string, principal: Principal, context?: RequestContext): Promise<FetchedDownload>;
  /**
   * The owner's files for the page's waiting file chooser (`readFiles` is called once the caller is
   * known to be the owner of a live session whose asset allows uploads): checked, recorded
   * (`browser_session.uploaded`, names, sizes, SHA-256) and then set. `forbidden` when the asset
   * blocks uploads; `not_found`, `file_chooser_closed`, `session_ended`, `payload_too_large`.
   */
  upload(id: string, chooserId: string, principal: Principal, readFiles: () => Promise<UploadFile[]>, context?: RequestContext): Promise<UploadedFile[]>;
  /** The owner answers the waiting chooser with no file. */
  cancelUpload(id: string, chooserId: string, principal: Principal, context?: RequestContext): Promise<void>;
  /** Ends the sessions a crash of this node left behind (`node_restart`); call once before serving. */
  recover(): Promise<number>;
  /** Refuses new starts and ends every live session of this node with `shutdown`. */
  shutdown(): Promise<void>;
}

export interface SessionsLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface BrowserSessionsDeps {
  db: Kysely<Tables>;
  access: Access;
  assets: { get(id: string): Promise<AssetRecord | null> };
  vault: VaultReader;
  pool: BrowserPool;
  /** Every session is recorded (asset policy `recording`: required or best effort). */
  recordings: Recordings;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  nodeId: string;
  logger: SessionsLogger;
  /** How often timeouts are checked and sessions ended elsewhere are noticed (default 1 s). */
  tickMs?: number | undefined;
  /** Deadline of a login (default 30 s). */
  loginTimeoutMs?: number | undefined;
  /** The recording's frame rate cap: a frame is acked this long after it arrived (default 750 ms). */
  recordingFrameIntervalMs?: number | undefined;
}
