import { z } from 'zod';
import type { WatchersMessage } from './watchers.js';
import type { LiveEndReason, LiveInputEvent, LiveMode, LiveSessionState, LiveTab, LiveTransferNotice } from './ports.js';

/**
 * The live view's wire format. Client → server: JSON text messages checked
 * by the schema below (anything else is answered with `invalid_message`).
 * Server → client: binary messages are one JPEG frame each; text messages
 * are the JSON objects of `ServerMessage`.
 */

/** A coordinate in page CSS pixels, from the page's top left; generous bounds, but never Infinity, NaN or a 20-digit number. */
const coordinate = z.number().finite().min(0).max(100_000);
const delta = z.number().finite().min(-10_000).max(10_000);

const mouse = z.strictObject({
  type: z.literal('mouse'),
  action: z.enum(['move', 'down', 'up', 'dblclick']),
  x: coordinate,
  y: coordinate,
  button: z.enum(['left', 'middle', 'right']).optional(),
});
const wheel = z.strictObject({ type: z.literal('wheel'), x: coordinate, y: coordinate, deltaX: delta, deltaY: delta });
// Key names as KeyboardEvent.key / .code give them ("a", "Enter", "Dead", "KeyA"): short, printable.
const key = z.strictObject({
  type: z.literal('key'),
  action: z.enum(['down', 'up']),
  key: z.string().min(1).max(32),
  code: z.string().max(32).optional(),
});
// Composed text from the viewer's input method (accents, dead keys already resolved).
const text = z.strictObject({ type: z.literal('text'), text: z.string().min(1).max(1_000) });

/**
 * Longest pasted text (UTF-16 units), as the browser module's MAX_PASTE_CHARS: the viewer sends the
 * first part of a longer clipboard and says so.
 */
export const MAX_PASTE_CHARS = 16 * 1024;
// Text from the viewer's own clipboard, inserted as typed text where the asset allows paste.
const paste = z.strictObject({ type: z.literal('paste'), text: z.string().min(1).max(MAX_PASTE_CHARS) });

export const VIEWPORT_LIMITS = { minWidth: 320, maxWidth: 3840, minHeight: 200, maxHeight: 2160 } as const;
const resize = z.strictObject({
  type: z.literal('resize'),
  width: z.number().int().min(1).max(100_000),
  height: z.number().int().min(1).max(100_000),
});
const switchTab = z.strictObject({ type: z.literal('switch_tab'), tabId: z.string().min(1).max(128) });
const ack = z.strictObject({ type: z.literal('ack') });
// The owner declines a page's file chooser (the files themselves come over HTTP: POST /api/sessions/{id}/uploads/{chooserId}).
const fileChooserCancel = z.strictObject({ type: z.literal('file_chooser_cancel'), id: z.uuid() });

export const clientMessageSchema = z.discriminatedUnion('type', [mouse, wheel, key, text, paste, resize, switchTab, ack, fileChooserCancel]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Input events go to the browser as they are; the others steer the view. */
export function isInputEvent(message: ClientMessage): message is ClientMessage & LiveInputEvent {
  return message.type === 'mouse' || message.type === 'wheel' || message.type === 'key' || message.type === 'text';
}

/**
 * Largest client message accepted by the socket: a paste of MAX_PASTE_CHARS characters, each
 * escaped as JSON's longest `\uXXXX` (6 bytes), fits.
 */
export const MAX_CLIENT_MESSAGE_BYTES = 128 * 1024;

/**
 * Codes of `{type:'error'}` messages. Stable: a client may branch on them.
 * Messages are fixed texts: never an exception's text, never a value from the page.
 */
export const LIVE_ERRORS = {
  invalid_message: 'The message is not valid JSON of a known type.',
  read_only: 'This view is read-only; input is ignored.',
  not_found: 'Not found.',
  session_ended: 'The session has ended.',
  tab_not_found: 'There is no such tab in this session.',
  busy: 'Too many messages at once; some were dropped.',
  too_many_viewers: 'This session has as many viewers as it may have; close another view first.',
  input_failed: 'The input could not be delivered to the browser.',
  paste_denied: 'Pasting into this portal is not allowed by its policy.',
  file_chooser_closed: 'This file chooser no longer waits for files.',
  unavailable: 'The session cannot be shown right now; try again shortly.',
  access_revoked: 'Your access to this session was withdrawn; the view is closed.',
  signed_out: 'You are signed out; sign in again to see this session.',
  internal: 'An internal error occurred.',
} as const;
export type LiveErrorCode = keyof typeof LIVE_ERRORS;

/** Close codes (4000–4999 are the application's). */
export const CLOSE = {
  /** The session ended; the reason is in the `ended` message and in the close reason text. */
  sessionEnded: 4410,
  /** No such session, or not yours to see: the two are never told apart. */
  notFound: 4404,
  /** The grant this open view was attached under no longer holds (`auth.denied` records why); opening it again is refused. */
  accessRevoked: 4403,
  /** The viewer's web session ended (sign-out, sign-out everywhere, revoked by an administrator, timed out); the browser session goes on. */
  signedOut: 4401,
  /** The session has MAX_VIEWERS_PER_SESSION viewers already. */
  tooManyViewers: 4429,
  /** Too many invalid messages in a row. */
  protocolError: 4400,
  /** The server could not attach (audit trail down, database unavailable). */
  unavailable: 4503,
  internal: 4500,
  /** The server is shutting down (standard "going away"). */
  goingAway: 1001,
} as const;

export type ServerMessage =
  /** `viewport`: page size in CSS pixels of the frames that follow (null until the first frame); sent again when it changes. */
  | { type: 'state'; state: LiveSessionState; mode: LiveMode; viewport: { width: number; height: number } | null }
  | { type: 'signing_in' }
  | { type: 'tabs'; tabs: LiveTab[] }
  /** Text copied in the remote page, for the controlling viewer's own clipboard (never sent to a watcher). */
  | { type: 'clipboard'; text: string; truncated: boolean }
  /** A download kept for the owner (fetch it from GET /api/sessions/{id}/downloads/{id}) or one the owner cannot fetch (`download_dropped`), a file chooser waiting for the owner's files, or one no longer waiting; control views only. */
  | LiveTransferNotice
  | { type: 'ended'; reason: LiveEndReason }
  /** Watch views of the session on this node and their names; sent to control views only (live-view/watchers.ts). */
  | WatchersMessage
  | { type: 'error'; code: LiveErrorCode; message: string };

export function errorMessage(code: LiveErrorCode): ServerMessage {
  return { type: 'error', code, message: LIVE_ERRORS[code] };
}

/** Parses one incoming message; null when it is not a valid client message. */
export function parseClientMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientMessage | null {
  if (isBinary) return null;
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = clientMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}
