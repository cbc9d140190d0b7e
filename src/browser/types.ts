// The browser module's public types: plain data in and out, so that sessions/, the live view and
// MCP tools never hold a Playwright object (DESIGN.md) and the browser can later move to a worker.
import type { Readable } from 'node:stream';
import type { LoginRecipe, PageCheck } from '../core/index.js';

export interface BrowserPool {
  /** New isolated BrowserContext (own cookies/storage), navigation lock installed before any page exists. */
  open(spec: ContextSpec): Promise<BrowserSession>;
  /** Sessions currently open on this node. */
  readonly size: number;
  /** Contexts opened ahead and ready for a session (WEBASSET_BROWSER_SPARE_CONTEXTS). */
  readonly spares: number;
  /** Closes every context and the browser; open() afterwards fails with browser_unavailable. */
  close(): Promise<void>;
}

export interface SessionPolicy {
  downloads: 'block' | 'allow';
  uploads: 'block' | 'allow';
  clipboardCopy: 'allow' | 'deny';
  clipboardPaste: 'allow' | 'deny';
  /** Largest allowed download in bytes; default MAX_DOWNLOAD_BYTES (policy.ts, 100 MiB). A larger one is cancelled and reported as blocked. */
  maxDownloadBytes?: number;
}

export interface ContextSpec {
  sessionId: string;
  /** Exact host names or `*.example.com` (core/host-pattern). */
  allowedHosts: readonly string[];
  /** Plain http:// (and ws://) to allowed hosts; otherwise only https:// and wss://. */
  allowInsecureHttp: boolean;
  policy: SessionPolicy;
  /** Default 1280x720. */
  viewport?: { width: number; height: number };
  /**
   * What `keys` events carry: `masked` (default) a count only; `plain` also the text typed into
   * fields that are not password fields (a password field never yields text).
   */
  recordKeystrokes?: 'masked' | 'plain';
  /**
   * Who owns the session: `agent` (an MCP agent, which has no live view to answer a file chooser:
   * every chooser is dismissed, transfers.ts) or `user` (default: choosers outside an agent's action
   * wait for the owner's live view).
   */
  ownerKind?: 'user' | 'agent';
  /** Called synchronously for every event; the sessions module audits them. Must not throw. */
  onEvent(event: BrowserEvent): void;
}

/** Why an allowed download is not (or no longer) kept for the owner. */
export type DownloadDropReason = 'session_limit' | 'too_large' | 'failed';

export type BlockedWhat = 'request' | 'navigation' | 'popup' | 'download' | 'upload' | 'clipboard' | 'websocket' | 'service_worker';

export type BrowserEvent =
  | { type: 'navigated'; tabId: string; url: string; title: string }
  | { type: 'blocked'; what: BlockedWhat; url?: string; reason: string }
  /** A complete download kept for the session's owner under `id` (transfers.ts); `fileName` is safe to show (safeFileName). */
  | { type: 'download'; id: string; fileName: string; size: number; sha256: string }
  /**
   * A download the asset allows that the owner cannot fetch: `session_limit` a kept one (`id`, with
   * the `size` and `sha256` it was kept with) whose copy was discarded to make room for newer ones
   * (MAX_KEPT_DOWNLOADS, MAX_KEPT_DOWNLOAD_BYTES), `too_large` over maxDownloadBytes, `failed` one
   * that did not complete (the last two are also reported as blocked, and were never kept).
   */
  | { type: 'download_dropped'; id?: string; fileName: string; size?: number; sha256?: string; reason: DownloadDropReason }
  /** Files set into a page's file chooser by the session's owner (names as the page got them). */
  | { type: 'upload'; fileNames: string[]; sizes: number[]; sha256: string[] }
  /** A page opened a file chooser and the asset allows uploads: it waits for the owner's files under `id`. */
  | { type: 'file_chooser'; id: string; multiple: boolean; accept: string[] }
  /** The chooser `id` no longer waits: answered, cancelled, or replaced by a newer one. */
  | { type: 'file_chooser_closed'; id: string }
  | { type: 'tab_opened' | 'tab_closed' | 'tab_switched'; tabId: string; url: string }
  /** A viewer pressed a mouse button; `target` describes the element (tag, type, name, role, label), never a value. */
  | { type: 'click'; x: number; y: number; button: string; target: string }
  /** Typing into one field, summarized (input-events.ts): `text` only when plain text is allowed and the field is not a password field. */
  | { type: 'keys'; target: string; field: 'password' | 'text'; count: number; text?: string }
  /** A copy handed to the viewer or a paste from it (the asset's policy allows that direction): how many characters, never which. */
  | { type: 'clipboard'; direction: 'copy' | 'paste'; chars: number }
  | { type: 'ended'; reason: 'browser_crashed' | 'closed' };

export interface BrowserSession {
  readonly sessionId: string;
  /** Runs the login (login/run-login.ts) on the active tab; until it resolves, screencast frames are withheld and input is ignored. */
  login(input: LoginInput): Promise<LoginOutcome>;
  /**
   * Loads a URL in the active tab (an asset without a login, an agent's navigate tool). A URL the
   * lock refuses is reported as blocked and fails with forbidden; a page that fails to load is not an error.
   */
  navigate(url: string): Promise<void>;
  /**
   * Frames of the active tab (CDP Page.startScreencast, JPEG). The callback must call frame.ack()
   * once the frame is sent; no further frame is delivered while one is unacknowledged (backpressure).
   * Resolves to a function that stops the screencast.
   */
  startScreencast(options: ScreencastOptions, onFrame: (frame: ScreencastFrame) => void): Promise<() => Promise<void>>;
  /** Ignored (resolves) while logging in and after close. Throws AppError invalid_request on malformed input. */
  input(event: InputEvent): Promise<void>;
  /**
   * Inserts text the operator pasted in their viewer into the focused element of the active tab
   * (as typed text: the remote clipboard is never used, clipboard.ts). `denied` (reported as
   * blocked) when the asset's policy denies paste; `ignored` while logging in or after close.
   * Text longer than MAX_PASTE_CHARS is refused with AppError invalid_request.
   */
  paste(text: string): Promise<'inserted' | 'denied' | 'ignored'>;
  /**
   * Copies in the session's pages, when the asset allows copying and the operator's input came
   * shortly before (clipboard.ts): the text for the operator's own clipboard. Returns the unsubscribe function.
   */
  onCopy(listener: (copied: CopiedText) => void): () => void;
  tabs(): TabInfo[];
  switchTab(tabId: string): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  close(): Promise<void>;
  readonly closed: boolean;
  /** Downloads kept for the owner and the file chooser waiting for the owner's files (transfers.ts). */
  readonly transfers: SessionTransfers;
  /** Tool-level controls for an AI agent (MCP): refs from an accessibility snapshot, bounded settle waits, redacted results. */
  readonly agent: AgentControls;
}

/** A download kept for the session's owner (at most MAX_KEPT_DOWNLOADS and MAX_KEPT_DOWNLOAD_BYTES a session; removed at its end). */
export interface KeptDownload {
  id: string;
  fileName: string;
  size: number;
  sha256: string;
}

export interface OpenedDownload {
  download: KeptDownload;
  /** The file's bytes; the caller reads it to its end or destroys it. */
  stream: Readable;
}

export interface FileChooserInfo {
  id: string;
  multiple: boolean;
  /** The file input's `accept` entries that look like a type or an extension (`.csv`, `image/*`). */
  accept: string[];
}

/** A file from the owner, as bytes: no path from a client ever reaches the file system. */
export interface UploadFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

export interface UploadedFile {
  /** The name as the page got it (safeFileName). */
  name: string;
  size: number;
  sha256: string;
}

/** What passes between the session's owner and its pages (downloads out, uploads in); plain data. */
export interface SessionTransfers {
  downloads(): KeptDownload[];
  /** The kept download `id`, opened; null when there is none (never kept, replaced by newer ones, session ended). */
  openDownload(id: string): Promise<OpenedDownload | null>;
  pendingChooser(): FileChooserInfo | null;
  /**
   * Checks and names the files (AppError invalid_request, payload_too_large; not_found for an unknown
   * chooser, file_chooser_closed for one answered, cancelled or replaced, session_ended), calls
   * `before` with what will be set (the caller audits; when it throws, nothing is set), then sets
   * them into the page's file input and reports `upload`.
   */
  setFiles(chooserId: string, files: UploadFile[], before: (files: UploadedFile[]) => Promise<void>): Promise<UploadedFile[]>;
  /** Answers the chooser with no file (same errors as setFiles). */
  cancelChooser(chooserId: string): Promise<void>;
  /**
   * File choosers of an agent's session that a page opened by itself, outside the agent's actions,
   * and that were dismissed since the last call (0 in other sessions): the agent's next tool result
   * says so. Choosers its own actions open are told in that action's result instead.
   */
  takeChoosersDismissed(): number;
}

/** Values that must never leave the browser module in agent results (the session credential's values). */
export interface RedactionSource {
  values(): readonly Buffer[];
  /**
   * Where the redaction keeps what it compiled from these values between calls (the patterns are
   * large, and every result is redacted). Owned with the values, so whoever wipes them clears it;
   * absent, the patterns are compiled for each call.
   */
  readonly compiled?: RedactionCache;
}

/** Opaque outside the agent redaction (`agent/redact.ts`); `entry` holds the secrets' patterns while set. */
export interface RedactionCache {
  entry?: unknown;
}

/** The active tab as an agent sees it; already redacted. */
export interface AgentPage {
  url: string;
  title: string;
}

export interface AgentActionResult {
  page: AgentPage;
  /** What the action caused, as observed by the bounded settle wait. */
  effect: 'navigated' | 'changed' | 'none';
  /** The element acted on, described without its value (e.g. `textbox "Amount"`), redacted. */
  target?: string;
  /** For type/fill: whether the field was a password field (audit masks text then). */
  field?: 'password' | 'text';
  /** The action opened a file chooser, which was dismissed: agents cannot give files. */
  fileChooserDismissed?: true;
}

export interface AgentSnapshot {
  page: AgentPage;
  /** YAML-ish aria tree with `[ref=eN]` refs, repetition collapsed, redacted. */
  text: string;
  /** Present when text was cut at maxChars: pass it back to continue. */
  cursor?: string;
  tabs: number;
}

/**
 * What an agent may do in a session (src/browser/agent). Every string it returns passes the one
 * redaction function (agent/redact.ts). Refused with `conflict` while the login runs and
 * `session_ended` after close. Errors are AppErrors with messages of our own, never Playwright's.
 */
export interface AgentControls {
  /** With `cursor`: the next part of the snapshot the cursor came from (refs stay those of that snapshot). */
  snapshot(options: { redact: RedactionSource; cursor?: string | undefined; maxChars?: number | undefined }): Promise<AgentSnapshot>;
  click(ref: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  type(ref: string, text: string, options: { redact: RedactionSource; submit?: boolean | undefined }): Promise<AgentActionResult>;
  selectOption(ref: string, values: readonly string[], options: { redact: RedactionSource }): Promise<AgentActionResult>;
  pressKey(key: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  hover(ref: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  /** The navigation lock applies: outside the allowlist -> AppError forbidden (reported as blocked); the session stays usable. */
  navigate(url: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  goBack(options: { redact: RedactionSource }): Promise<AgentActionResult>;
  /** Exactly one of text/ref/url (url: substring or glob). timeoutMs capped at 30 s. AppError `wait_timed_out` when not met. */
  waitFor(condition: { text?: string | undefined; ref?: string | undefined; url?: string | undefined }, timeoutMs: number, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  /** JPEG of the active tab's viewport; password inputs and any element whose text holds a redacted value are masked. */
  screenshot(options: { redact: RedactionSource }): Promise<{ jpeg: Buffer; width: number; height: number; page: AgentPage }>;
  /** Types `secret` into the field `ref` (wiping it is the caller's); refused (forbidden) when the field's frame or form is not on an allowed host; returns target/field only. */
  /**
   * `secret` names the vault field: a password goes only into a password field. The field is kept as a secret field of its
   * document: its value, whatever it becomes, is redacted and masked like a password field's, and drawn as dots.
   */
  fillCredential(ref: string, secret: Buffer, options: { redact: RedactionSource; secret: CredentialField }): Promise<AgentActionResult>;
}

/** The vault fields an agent may have typed into a page (fill_credential); `totp` is the code computed now from the seed. */
export const CREDENTIAL_FIELDS = ['username', 'password', 'totp'] as const;
export type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

export interface ScreencastOptions {
  maxWidth: number;
  maxHeight: number;
  /** JPEG quality, 1 to 100. */
  quality: number;
  /**
   * Take the frames of another viewer's screencast while one runs that scales the page down no more
   * than this viewer's would (at its size and quality, at the pace of this viewer's acks), and run
   * one only while none does (the recording: screencast.ts).
   */
  joinStream?: boolean;
}

export interface ScreencastFrame {
  /** One JPEG, at most maxWidth x maxHeight pixels (for a viewer that joined a stream, that stream's). */
  data: Buffer;
  /** The page's viewport in CSS pixels: the coordinate space of input events (the JPEG may be scaled down). */
  width: number;
  height: number;
  timestampMs: number;
  ack(): void;
}

/**
 * Input from a viewer. A `key` down of a printable character (`key` of one character, no Ctrl,
 * Alt or Meta held) types it, as a keyboard does; `text` inserts composed text (IME, dead keys,
 * accents). A viewer sends one or the other for a character, never both. `dblclick` is the second
 * click of a double click (press and release with a click count of 2): a viewer sends down, up, dblclick.
 */
export type InputEvent =
  | { type: 'mouse'; action: 'move' | 'down' | 'up' | 'dblclick'; x: number; y: number; button?: 'left' | 'middle' | 'right' }
  | { type: 'wheel'; x: number; y: number; deltaX: number; deltaY: number }
  | { type: 'key'; action: 'down' | 'up'; key: string; code?: string }
  | { type: 'text'; text: string };

/** Text copied in a remote page, for the operator's clipboard; at most MAX_COPY_CHARS (clipboard.ts). */
export interface CopiedText {
  text: string;
  /** The page's copy was longer and was cut. */
  truncated: boolean;
}

export interface TabInfo {
  id: string;
  url: string;
  title: string;
  active: boolean;
}

/** Structural copy of vault's SecretFields (browser sits beside vault and may not import it). */
export interface SecretFields {
  readonly names: readonly string[];
  get(name: string): Buffer | undefined;
  dispose(): void;
}

export interface LoginInput {
  startUrl: string;
  /** null: the automatic recipe. */
  recipe: LoginRecipe | null;
  successCheck: PageCheck | null;
  failureCheck: PageCheck | null;
  /** Reads the credential when the runner needs it; the runner disposes it. */
  readCredential(): Promise<SecretFields>;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Aborted when the session ends: the runner stops at once, reads no credential and gives a failed outcome. */
  signal?: AbortSignal | undefined;
}

export type LoginOutcome =
  | { ok: true; injection: 'intercept' | 'fill'; durationMs: number }
  | { ok: false; step: string; message: string; durationMs: number };

/** What the login runner may fill into: only the asset's hosts, and http only when the asset allows it. */
export interface LoginGuard {
  isAllowedOrigin(url: string): boolean;
}
