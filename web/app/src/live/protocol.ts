// The live view's wire format as the page uses it. The server's side, with the schema it checks:
// src/http/live-view/messages.ts; in words: docs/live-view.md.

export type LiveMode = 'control' | 'watch';
/** A page size in CSS pixels. */
export interface Viewport {
  width: number;
  height: number;
}
export interface LiveTab {
  id: string;
  url: string;
  title: string;
  active: boolean;
}

/** Text messages of the server (a binary message is one JPEG frame). */
export type ServerMessage =
  | { type: 'state'; state: 'starting' | 'logging_in' | 'active' | 'ended'; mode: LiveMode; viewport: Viewport | null }
  | { type: 'signing_in' }
  | { type: 'tabs'; tabs: LiveTab[] }
  | { type: 'clipboard'; text: string; truncated: boolean }
  | { type: 'watchers'; count: number; names: string[] }
  /** A file the portal sent, kept for the owner: GET /api/sessions/{id}/downloads/{id}. */
  | { type: 'download'; id: string; fileName: string; size: number; sha256: string }
  /** A file the portal sent that the owner cannot fetch: `id` of a kept one that made room for newer ones. */
  | { type: 'download_dropped'; id?: string; fileName: string; reason: 'session_limit' | 'too_large' | 'failed' }
  /** The portal asks for files: POST them to /api/sessions/{id}/uploads/{id}, or cancel. */
  | { type: 'file_chooser'; id: string; multiple: boolean; accept: string[] }
  | { type: 'file_chooser_closed'; id: string }
  | { type: 'ended'; reason: string }
  | { type: 'error'; code: string; message: string };

export type MouseButton = 'left' | 'middle' | 'right';
export type ClientMessage =
  | { type: 'mouse'; action: 'move' | 'down' | 'up' | 'dblclick'; x: number; y: number; button?: MouseButton }
  | { type: 'wheel'; x: number; y: number; deltaX: number; deltaY: number }
  | { type: 'key'; action: 'down' | 'up'; key: string; code?: string }
  | { type: 'text'; text: string }
  | { type: 'paste'; text: string }
  | { type: 'resize'; width: number; height: number }
  | { type: 'switch_tab'; tabId: string }
  | { type: 'ack' }
  | { type: 'file_chooser_cancel'; id: string };

/** As MAX_PASTE_CHARS of the server: a longer clipboard is sent cut to this. */
export const MAX_PASTE_CHARS = 16 * 1024;
/** As the server's limit of a `text` message. */
export const MAX_TEXT_CHARS = 1000;

const TYPES = new Set(['state', 'signing_in', 'tabs', 'clipboard', 'watchers', 'download', 'download_dropped', 'file_chooser', 'file_chooser_closed', 'ended', 'error']);

/** One text message of the server, or null when it is not one the page knows (a newer server's message is ignored). */
export function parseServerMessage(text: string): ServerMessage | null {
  try {
    const value = JSON.parse(text) as { type?: unknown } | null;
    return value && typeof value === 'object' && typeof value.type === 'string' && TYPES.has(value.type) ? (value as ServerMessage) : null;
  } catch {
    return null;
  }
}
