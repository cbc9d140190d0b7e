// The browser module: isolated Chromium contexts behind a plain-data handle. Nothing outside
// src/browser holds a Playwright object (DESIGN.md; checked by .dependency-cruiser.cjs).
export { createBrowserPool, DEFAULT_LAUNCH_ARGS, type BrowserPoolDeps } from './pool.js';
export { downloadsFolderPrefix, FIRST_SHAPE_MIN_AGE_MS, hostTag, PROCESS_RUN } from './downloads-root.js';
export { findChromium, CHROMIUM_CANDIDATES } from './chromium-path.js';
export { DEFAULT_VIEWPORT } from './browser-session.js';
export { redactAgentText } from './agent/redact.js';
export { CREDENTIAL_FIELDS } from './types.js';
export { MAX_COPY_CHARS, MAX_PASTE_CHARS } from './clipboard.js';
export { AGENT_CHOOSER_REASON, MAX_FILE_NAME_CHARS, MAX_KEPT_DOWNLOAD_BYTES, MAX_KEPT_DOWNLOADS, MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_FILES, MAX_UPLOAD_TOTAL_BYTES, safeFileName } from './transfers.js';
export type {
  AgentActionResult,
  AgentControls,
  AgentPage,
  AgentSnapshot,
  BlockedWhat,
  BrowserEvent,
  BrowserPool,
  BrowserSession,
  ContextSpec,
  CopiedText,
  CredentialField,
  DownloadDropReason,
  FileChooserInfo,
  InputEvent,
  KeptDownload,
  LoginGuard,
  LoginInput,
  LoginOutcome,
  OpenedDownload,
  RedactionCache,
  RedactionSource,
  ScreencastFrame,
  ScreencastOptions,
  SecretFields,
  SessionPolicy,
  SessionTransfers,
  TabInfo,
  UploadedFile,
  UploadFile,
} from './types.js';
