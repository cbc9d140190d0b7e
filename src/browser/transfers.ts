import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileChooser } from 'playwright-core';
import { AppError } from '../core/index.js';
import type { BrowserEvent, FileChooserInfo, KeptDownload, OpenedDownload, SessionTransfers, UploadedFile, UploadFile } from './types.js';

/** Downloads a session keeps for its owner at once; the oldest goes when one more arrives. */
export const MAX_KEPT_DOWNLOADS = 20;
/** Bytes a session keeps at once (a single file larger than this, within the asset's maxDownloadBytes, is kept alone). */
export const MAX_KEPT_DOWNLOAD_BYTES = 256 * 1024 * 1024;
/** Largest file the owner may hand to a page's file chooser. */
export const MAX_UPLOAD_FILE_BYTES = 25 * 1024 * 1024;
/** Files in one answer to a file chooser, and their total (below Playwright's 50 MiB limit for files given as buffers). */
export const MAX_UPLOAD_FILES = 10;
export const MAX_UPLOAD_TOTAL_BYTES = 48 * 1024 * 1024;
/** Longest file name handed to a page or to the owner (characters). */
export const MAX_FILE_NAME_CHARS = 200;
/** Why a file chooser in an agent's session was dismissed (the audit record's reason; reported once per session, browser-session.ts). */
export const AGENT_CHOOSER_REASON = 'file choosers are not available to agents; dismissed';
/** Ids of choosers answered, cancelled or replaced that are still told apart from unknown ones (409 rather than 404). */
const CLOSED_CHOOSERS_REMEMBERED = 20;

const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/i;

/**
 * A file name as a page or the owner may see it: its last path segment only, no control or format
 * characters, not `.`/`..`, at most MAX_FILE_NAME_CHARS characters; `file` when nothing is left.
 * It is never used as a path here: files given to a page are buffers, kept downloads have names of our own.
 */
export function safeFileName(name: string): string {
  const base = String(name).replace(CONTROL, '').split(/[/\\]/).pop()!.trim();
  const cut = [...base].slice(0, MAX_FILE_NAME_CHARS).join('');
  return cut === '' || cut === '.' || cut === '..' ? 'file' : cut;
}

export interface TransfersDeps {
  /** The browser's downloads folder (a 0700 folder of the pool, removed with the browser); the system temp folder when absent. */
  dir: string | undefined;
  /** The claiming session's id (only known at claim; a file arrives only after it). */
  sessionId(): string;
  /** True once an agent's session claimed the context: then no chooser waits for a live view (ContextSpec.ownerKind). */
  agentOwned(): boolean;
  report(event: BrowserEvent): void;
}

export interface Transfers extends SessionTransfers {
  /**
   * Copies a complete download into the session's own folder (0700, created at the first one),
   * hashing it on the way; over `maxBytes` it is not kept. Reports the older downloads it drops to
   * stay within the session's limits (`download_dropped`); the new one's fate is the caller's to report.
   */
  keepDownload(path: string, fileName: string, maxBytes: number): Promise<{ kept: KeptDownload } | { tooLarge: true } | { closed: true }>;
  /** A page opened a file chooser and the asset allows uploads: it waits for the owner under a new id (a newer one replaces it). */
  offerChooser(chooser: FileChooser): Promise<void>;
  /**
   * Runs an agent's action. A file chooser the page opens meanwhile is dismissed at once (agents
   * have no way to give files, by design), reported as a blocked upload, and counted here for the
   * action's result: the agent learns why nothing happened, and no chooser waits for an owner who
   * is not looking.
   */
  duringAgentAction<T>(run: () => Promise<T>): Promise<{ value: T; choosersDismissed: number }>;
  /**
   * A page opened a file chooser: true when it was dismissed (the caller does nothing else), which
   * is when an agent's action is running, or in an agent's session at any time: a page timer that
   * opens one after the action returned would otherwise wait for a live view the agent does not have.
   */
  dismissForAgent(chooser: FileChooser): boolean;
  /** Removes the session's folder and forgets everything; later calls find nothing. */
  close(): Promise<void>;
  /** The public part only (BrowserSession.transfers): what the session's callers may do. */
  readonly handle: SessionTransfers;
}

interface Kept extends KeptDownload {
  path: string;
}

/**
 * What passes between the owner and the session's pages: downloads kept for the owner and the
 * one file chooser waiting for the owner's files (downloads and uploads of docs/live-view.md).
 */
export function createTransfers(deps: TransfersDeps): Transfers {
  const kept: Kept[] = [];
  let folder: Promise<string> | undefined;
  let closed = false;
  let pending: { info: FileChooserInfo; chooser: FileChooser } | null = null;
  const closedChoosers: string[] = [];
  /** Choosers dismissed during the agent's action in progress; undefined when none runs (agent calls run one at a time). */
  let agentDismissed: number | undefined;
  /** Choosers of an agent's session dismissed outside its actions, not yet told (takeChoosersDismissed). */
  let dismissedOutside = 0;

  const ownFolder = () => {
    const id = deps.sessionId().replace(/[^\w-]/g, '').slice(0, 64) || 'session';
    folder ??= mkdtemp(join(deps.dir ?? tmpdir(), `kept-${id}-`));
    return folder;
  };
  /** Makes room for a newer download: the owner is told that this one is gone. */
  const forget = (entry: Kept) => {
    kept.splice(kept.indexOf(entry), 1);
    void unlink(entry.path).catch(() => undefined);
    deps.report({ type: 'download_dropped', id: entry.id, fileName: entry.fileName, size: entry.size, sha256: entry.sha256, reason: 'session_limit' });
  };
  const closeChooser = (id: string) => {
    if (pending?.info.id === id) pending = null;
    closedChoosers.push(id);
    if (closedChoosers.length > CLOSED_CHOOSERS_REMEMBERED) closedChoosers.shift();
    deps.report({ type: 'file_chooser_closed', id });
  };
  /** The waiting chooser `id`; AppError not_found when it never was, file_chooser_closed when it was answered, cancelled or replaced. */
  const waiting = (id: string) => {
    if (closed) throw new AppError('session_ended');
    if (pending && pending.info.id === id) return pending;
    if (typeof id === 'string' && closedChoosers.includes(id)) throw new AppError('file_chooser_closed');
    throw new AppError('not_found', { publicMessage: 'No such file chooser in this session.' });
  };

  const self: Omit<Transfers, 'handle'> = {
    async keepDownload(path, fileName, maxBytes) {
      if (closed) return { closed: true };
      const dir = await ownFolder();
      const id = randomUUID();
      const target = join(dir, id);
      const hash = createHash('sha256');
      let size = 0;
      const over = new Error('over the cap');
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          if (size > maxBytes) return done(over);
          if (closed) return done(new Error('closed'));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      try {
        await pipeline(createReadStream(path), count, createWriteStream(target, { mode: 0o600, flags: 'wx' }));
      } catch (error) {
        await unlink(target).catch(() => undefined);
        if (error === over) return { tooLarge: true };
        if (closed) return { closed: true };
        throw error;
      }
      if (closed) {
        await unlink(target).catch(() => undefined);
        return { closed: true };
      }
      const entry: Kept = { id, fileName: safeFileName(fileName), size, sha256: hash.digest('hex'), path: target };
      while (kept.length > 0 && (kept.length >= MAX_KEPT_DOWNLOADS || kept.reduce((sum, k) => sum + k.size, 0) + size > MAX_KEPT_DOWNLOAD_BYTES)) forget(kept[0]!);
      kept.push(entry);
      const { path: _path, ...download } = entry;
      return { kept: download };
    },

    async duringAgentAction(run) {
      agentDismissed = 0;
      try {
        const value = await run();
        return { value, choosersDismissed: agentDismissed };
      } finally {
        agentDismissed = undefined;
      }
    },

    dismissForAgent(chooser) {
      if (closed) return false;
      if (agentDismissed !== undefined) agentDismissed += 1;
      else if (deps.agentOwned()) dismissedOutside += 1;
      else return false;
      // As the owner's cancel: the page's input gets no file.
      void chooser.setFiles([]).catch(() => undefined);
      deps.report({ type: 'blocked', what: 'upload', reason: AGENT_CHOOSER_REASON });
      return true;
    },

    async offerChooser(chooser) {
      if (closed) return;
      const accept = await chooser
        .element()
        .getAttribute('accept')
        .catch(() => null);
      if (closed) return;
      const info: FileChooserInfo = {
        id: randomUUID(),
        multiple: chooser.isMultiple(),
        accept: (accept ?? '')
          .split(',')
          .map((part) => part.replace(CONTROL, '').trim().slice(0, 100))
          .filter((part) => /^(\.[\w-]+|[\w.+-]+\/[\w.+*-]+)$/.test(part))
          .slice(0, 20),
      };
      if (pending) closeChooser(pending.info.id);
      pending = { info, chooser };
      deps.report({ type: 'file_chooser', ...info });
    },

    downloads: () => kept.map(({ path: _path, ...download }) => download),

    async openDownload(id): Promise<OpenedDownload | null> {
      const entry = closed ? undefined : kept.find((k) => k.id === id);
      if (!entry) return null;
      // Opened before it is handed out: a session that ends while the file is sent removes its name, not the open file.
      const handle = await open(entry.path, 'r').catch(() => null);
      if (!handle) return null;
      const { path: _path, ...download } = entry;
      return { download, stream: handle.createReadStream() };
    },

    pendingChooser: () => (pending && !closed ? { ...pending.info, accept: [...pending.info.accept] } : null),

    takeChoosersDismissed() {
      const count = dismissedOutside;
      dismissedOutside = 0;
      return count;
    },

    async setFiles(chooserId, files, before): Promise<UploadedFile[]> {
      const { chooser, info } = waiting(chooserId);
      if (!Array.isArray(files) || files.length === 0) throw new AppError('invalid_request', { publicMessage: 'Send at least one file, or cancel the file chooser.' });
      if (files.length > (info.multiple ? MAX_UPLOAD_FILES : 1)) {
        throw new AppError('invalid_request', { publicMessage: info.multiple ? `At most ${MAX_UPLOAD_FILES} files at once.` : 'This file chooser takes one file.' });
      }
      let total = 0;
      const prepared: UploadFile[] = files.map((file) => {
        if (!Buffer.isBuffer(file.buffer)) throw new AppError('invalid_request');
        total += file.buffer.length;
        if (file.buffer.length > MAX_UPLOAD_FILE_BYTES || total > MAX_UPLOAD_TOTAL_BYTES) throw new AppError('payload_too_large');
        return { name: safeFileName(file.name), mimeType: typeof file.mimeType === 'string' && MIME.test(file.mimeType) ? file.mimeType.toLowerCase() : 'application/octet-stream', buffer: file.buffer };
      });
      const uploaded = prepared.map((file) => ({ name: file.name, size: file.buffer.length, sha256: createHash('sha256').update(file.buffer).digest('hex') }));
      await before(uploaded);
      // Answered at most once, even when setting fails: the page's chooser is spent either way.
      if (pending?.info.id === chooserId) closeChooser(chooserId);
      else throw new AppError('file_chooser_closed');
      try {
        await chooser.setFiles(prepared.map((file) => ({ name: file.name, mimeType: file.mimeType, buffer: file.buffer })));
      } catch {
        throw new AppError('file_chooser_closed', { detail: 'the page or its file input went away before the files were set' });
      }
      deps.report({ type: 'upload', fileNames: uploaded.map((f) => f.name), sizes: uploaded.map((f) => f.size), sha256: uploaded.map((f) => f.sha256) });
      return uploaded;
    },

    async cancelChooser(chooserId) {
      const { chooser } = waiting(chooserId);
      closeChooser(chooserId);
      await chooser.setFiles([]).catch(() => undefined);
    },

    async close() {
      closed = true;
      pending = null;
      kept.length = 0;
      const dir = folder ? await folder.catch(() => undefined) : undefined;
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  return {
    ...self,
    handle: {
      downloads: () => self.downloads(),
      openDownload: (id) => self.openDownload(id),
      pendingChooser: () => self.pendingChooser(),
      setFiles: (chooserId, files, before) => self.setFiles(chooserId, files, before),
      cancelChooser: (chooserId) => self.cancelChooser(chooserId),
      takeChoosersDismissed: () => self.takeChoosersDismissed(),
    },
  };
}
