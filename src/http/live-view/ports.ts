import type { RequestContext } from '../../access/index.js';
import type { Principal } from '../../identity/index.js';

/**
 * What the live view needs from `sessions/` and from the governed browser
 * handle, declared here by the consumer (plain data in and out, no
 * Playwright type), so the route depends on exactly these calls.
 */

export type LiveSessionState = 'starting' | 'logging_in' | 'active' | 'ended';
export type LiveEndReason = 'user' | 'idle_timeout' | 'max_duration' | 'admin' | 'login_failed' | 'browser_crashed' | 'shutdown' | 'node_restart' | 'recording_failed';
export type LiveMode = 'control' | 'watch';

export interface LiveSessionRecord {
  id: string;
  userId: string;
  state: LiveSessionState;
  endReason: LiveEndReason | null;
}

export type LiveInputEvent =
  | { type: 'mouse'; action: 'move' | 'down' | 'up' | 'dblclick'; x: number; y: number; button?: 'left' | 'middle' | 'right' }
  | { type: 'wheel'; x: number; y: number; deltaX: number; deltaY: number }
  | { type: 'key'; action: 'down' | 'up'; key: string; code?: string }
  | { type: 'text'; text: string };

export interface LiveTab {
  id: string;
  url: string;
  title: string;
  active: boolean;
}

export interface LiveFrame {
  data: Buffer;
  width: number;
  height: number;
  timestampMs: number;
  /** Tells the browser this frame is out of our hands; the next one follows only after it. */
  ack(): void;
}

export interface ScreencastOptions {
  maxWidth: number;
  maxHeight: number;
  quality: number;
}

export interface LiveBrowser {
  startScreencast(options: ScreencastOptions, onFrame: (frame: LiveFrame) => void): Promise<() => Promise<void>>;
  input(event: LiveInputEvent): Promise<void>;
  /** Inserts the controller's pasted text as typed text; `denied` when the asset's policy denies paste (reported as blocked). */
  paste(text: string): Promise<'inserted' | 'denied' | 'ignored'>;
  /** Copies in the remote page (allowed by the asset, right after the controller's input); returns the unsubscribe function. */
  onCopy(listener: (copied: { text: string; truncated: boolean }) => void): () => void;
  tabs(): LiveTab[];
  switchTab(tabId: string): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  readonly closed: boolean;
}

export interface LiveHandle {
  record: LiveSessionRecord;
  browser: LiveBrowser;
  /** Resets the session's idle timer. */
  touch(): void;
  /**
   * Applies again the decision that let this view attach (`connect` for the owner's control view, `watch` for a watcher),
   * now: resolves while it still holds; otherwise records `auth.denied` with the reason and throws `not_found`, or the
   * store's error when the decision cannot be made. Made for `viewer` (the viewer as they are now) when given.
   */
  recheck(viewer?: Principal): Promise<void>;
  /** Called once when the session ends; returns the unsubscribe function. */
  onEnd(listener: (reason: LiveEndReason) => void): () => void;
  /** The owner's (control) view only: downloads kept for them, file choosers waiting for their files. */
  transfers?: LiveTransfers;
}

export type LiveTransferNotice =
  | { type: 'download'; id: string; fileName: string; size: number; sha256: string }
  /** An allowed download the owner cannot fetch (docs/live-view.md); `id` when it was kept and announced before. */
  | { type: 'download_dropped'; id?: string; fileName: string; reason: 'session_limit' | 'too_large' | 'failed' }
  | { type: 'file_chooser'; id: string; multiple: boolean; accept: string[] }
  | { type: 'file_chooser_closed'; id: string };

export interface LiveTransfers {
  /** What is there now, then each change; returns the unsubscribe function. */
  subscribe(listener: (notice: LiveTransferNotice) => void): () => void;
  /** Answers the waiting chooser with no file; AppError not_found / file_chooser_closed / session_ended otherwise. */
  cancelChooser(id: string): Promise<void>;
}

export interface LiveSessions {
  /** The record when `principal` may see the session; not_found otherwise (existence never revealed). */
  get(id: string, principal: Principal): Promise<LiveSessionRecord>;
  attach(id: string, principal: Principal, mode: LiveMode, context: RequestContext): Promise<LiveHandle>;
}
