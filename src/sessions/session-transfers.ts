import type { RequestContext } from '../access/index.js';
import type { BrowserSession, UploadedFile, UploadFile } from '../browser/index.js';
import { AppError } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { LiveSession, LiveSessions } from './live-sessions.js';
import type { SessionAudit } from './session-audit.js';
import { viaOf } from './session-audit.js';
import type { AttachedTransfers, FetchedDownload, SessionRecord, TransferNotice } from './types.js';

export interface SessionTransfersDeps {
  live: LiveSessions;
  audit: SessionAudit;
  /** The record as this node knows it (fresher than the database for a live session). */
  current(id: string): Promise<SessionRecord | null>;
  /** The owner may still connect to the session's asset now (browser-sessions.ts); refused: not_found, recorded as auth.denied. */
  mayStillConnect(record: SessionRecord, principal: Principal, context: RequestContext): Promise<void>;
}

const NO_SESSION = () => new AppError('not_found', { publicMessage: 'No such session.' });

/**
 * Files between a session's owner and its pages: downloads kept for the owner, fetched over HTTP,
 * and files for a page's file chooser. The owner only, on the node that holds the session; every
 * fetch and every upload is recorded before it happens (fail closed).
 */
export function createSessionTransfers(deps: SessionTransfersDeps) {
  const { live, audit } = deps;

  /**
   * The owner's live session on this node with its browser, while the owner may still connect to its
   * asset (as for the owner's control view); one answer (not_found) for everything else.
   */
  async function owned(id: string, principal: Principal, context: RequestContext, ended: () => AppError): Promise<{ s: LiveSession; browser: BrowserSession }> {
    const record = await deps.current(id);
    if (!record || record.userId !== principal.id) throw NO_SESSION();
    // Before the state: a caller who may not use it learns nothing, not even whether it ended.
    await deps.mayStillConnect(record, principal, context);
    const s = live.sessions.get(id);
    if (record.state === 'ended' || s?.ending) throw ended();
    if (!s || !s.browser) throw NO_SESSION();
    return { s, browser: s.browser };
  }

  return {
    async fetchDownload(id: string, downloadId: string, principal: Principal, context: RequestContext = {}): Promise<FetchedDownload> {
      // An ended session's files are gone: it answers as if there never were any.
      const { s, browser } = await owned(id, principal, context, NO_SESSION);
      const known = typeof downloadId === 'string' ? browser.transfers.downloads().find((d) => d.id === downloadId) : undefined;
      if (!known) throw new AppError('not_found', { publicMessage: 'No such download in this session.' });
      await audit.record(
        'browser_session.download_fetched',
        'success',
        id,
        audit.actorOf(principal),
        { assetId: s.record.assetId, downloadId: known.id, fileName: known.fileName, size: known.size, sha256: known.sha256, ...viaOf(principal) },
        context,
      );
      const opened = await browser.transfers.openDownload(known.id);
      if (!opened) throw new AppError('not_found', { publicMessage: 'No such download in this session.' });
      live.touch(s);
      return { ...opened.download, stream: opened.stream };
    },

    async upload(id: string, chooserId: string, principal: Principal, readFiles: () => Promise<UploadFile[]>, context: RequestContext = {}): Promise<UploadedFile[]> {
      const { s, browser } = await owned(id, principal, context, () => new AppError('session_ended'));
      if (s.asset.policy.uploads !== 'allow') throw new AppError('forbidden', { publicMessage: 'Uploads are blocked for this asset.' });
      // Read only once the caller is known to be the owner of a session that takes files.
      const files = await readFiles();
      const actor = audit.actorOf(principal);
      let recorded = null as UploadedFile[] | null;
      const details = (set: UploadedFile[]) => ({ assetId: s.record.assetId, chooserId, fileNames: set.map((f) => f.name), sizes: set.map((f) => f.size), sha256: set.map((f) => f.sha256), ...viaOf(principal) });
      try {
        const uploaded = await browser.transfers.setFiles(chooserId, files, async (set) => {
          await audit.record('browser_session.uploaded', 'success', id, actor, details(set), context);
          recorded = set;
        });
        live.touch(s);
        return uploaded;
      } catch (error) {
        // Recorded as done, then the page's input went away: the trail says so too.
        if (recorded) {
          await audit.record('browser_session.uploaded', 'failure', id, actor, { ...details(recorded), code: error instanceof AppError ? error.code : 'internal' }, context).catch(() => undefined);
        }
        throw error;
      }
    },

    async cancelUpload(id: string, chooserId: string, principal: Principal, context: RequestContext = {}): Promise<void> {
      const { s, browser } = await owned(id, principal, context, () => new AppError('session_ended'));
      await browser.transfers.cancelChooser(chooserId);
      live.touch(s);
    },

    /** The owner's control view: what is kept and waiting now, then each change. */
    attached(s: LiveSession, browser: BrowserSession): AttachedTransfers {
      return {
        subscribe(listener) {
          const now: TransferNotice[] = [...browser.transfers.downloads().map((d) => ({ type: 'download' as const, ...d }))];
          const chooser = browser.transfers.pendingChooser();
          if (chooser) now.push({ type: 'file_chooser', ...chooser });
          for (const notice of now) listener(notice);
          s.transferListeners.add(listener);
          return () => s.transferListeners.delete(listener);
        },
        async cancelChooser(chooserId) {
          if (s.ending) throw new AppError('session_ended');
          await browser.transfers.cancelChooser(chooserId);
          live.touch(s);
        },
      };
    },
  };
}
