import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CDPSession, Download, Page } from 'playwright-core';
import { safeFileName, type Transfers } from './transfers.js';
import type { BrowserEvent, SessionPolicy } from './types.js';
import { describeUrl } from './url-guard.js';

/** Context options that follow the asset's policy; set when the context is created. */
export function contextPolicyOptions(policy: SessionPolicy): { acceptDownloads: boolean } {
  return { acceptDownloads: policy.downloads === 'allow' };
}

/** Largest download an asset that allows downloads may keep; a larger one is cancelled and reported as blocked. */
export const MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024;

/**
 * How often the size of a running download's partial file is read. Chromium reports progress only
 * about every 0.5 s, which at loopback speed let a download pass a small cap by tens of megabytes;
 * the file on disk bounds the overshoot to what arrives in one interval plus the cancel's round trip.
 */
export const DOWNLOAD_POLL_MS = 25;

/**
 * Downloads and uploads of one page (tab), per policy. `cdp` is the tab's own CDP session: its
 * Page.downloadProgress events let a download that grows past the cap be cancelled while it runs
 * (Playwright tells nothing before the file is complete), and with `downloadsDir` (the browser's
 * downloadsPath) the partial file `<guid>.crdownload` is measured every DOWNLOAD_POLL_MS as well;
 * the size is checked again at the end. A complete allowed download and a file chooser where uploads
 * are allowed go to `transfers`, for the session's owner.
 */
export function watchPagePolicy(page: Page, policy: SessionPolicy, report: (event: BrowserEvent) => void, cdp: CDPSession | undefined, downloadsDir: string | undefined, transfers: Transfers): void {
  const maxBytes = policy.maxDownloadBytes ?? MAX_DOWNLOAD_BYTES;
  const running: RunningDownload[] = [];
  // URLs Chromium reported too large before Playwright handed over their Download.
  const oversizedUrls: string[] = [];
  const tooLarge = (entry: RunningDownload) => {
    if (entry.tooLarge) return;
    entry.tooLarge = true;
    void entry.download.cancel().catch(() => undefined);
    report({ type: 'blocked', what: 'download', url: describeUrl(entry.download.url()), reason: `download too large (${entry.fileName}, over ${maxBytes} bytes)` });
    report({ type: 'download_dropped', fileName: safeFileName(entry.fileName), reason: 'too_large' });
  };
  if (policy.downloads === 'allow' && cdp) {
    const urls = new Map<string, string>();
    const flagged = new Set<string>();
    const polls = new Map<string, NodeJS.Timeout>();
    const stopPolling = (guid: string) => {
      clearInterval(polls.get(guid));
      polls.delete(guid);
    };
    const overCap = (guid: string) => {
      const url = urls.get(guid);
      if (flagged.has(guid) || url === undefined) return;
      flagged.add(guid);
      stopPolling(guid);
      const entry = running.find((candidate) => candidate.download.url() === url && !candidate.tooLarge);
      if (entry) tooLarge(entry);
      else if (oversizedUrls.length < 100) oversizedUrls.push(url);
    };
    cdp.on('Page.downloadWillBegin', (event: { guid: string; url: string }) => {
      if (urls.size >= 1000) return;
      urls.set(event.guid, event.url);
      if (downloadsDir === undefined || !/^[\w-]{1,64}$/.test(event.guid)) return;
      const partial = join(downloadsDir, `${event.guid}.crdownload`);
      let reading = false;
      const timer = setInterval(() => {
        if (reading) return;
        reading = true;
        stat(partial).then(
          (info) => {
            reading = false;
            if (info.size > maxBytes) overCap(event.guid);
          },
          // Not there yet, or renamed once complete: the progress events and the final check cover both.
          () => (reading = false),
        );
      }, DOWNLOAD_POLL_MS);
      timer.unref();
      polls.set(event.guid, timer);
    });
    cdp.on('Page.downloadProgress', (event: { guid: string; totalBytes: number; receivedBytes: number; state: string }) => {
      if (event.state !== 'inProgress') {
        stopPolling(event.guid);
        urls.delete(event.guid);
        return;
      }
      if (event.receivedBytes > maxBytes || event.totalBytes > maxBytes) overCap(event.guid);
    });
    page.once('close', () => {
      for (const guid of [...polls.keys()]) stopPolling(guid);
    });
    void cdp.send('Page.enable').catch(() => undefined);
  }
  page.on('download', (download) => {
    const entry: RunningDownload = { download, fileName: download.suggestedFilename().slice(0, 255), tooLarge: false };
    running.push(entry);
    const early = oversizedUrls.indexOf(download.url());
    if (policy.downloads === 'allow' && early !== -1) {
      oversizedUrls.splice(early, 1);
      tooLarge(entry);
    }
    void handleDownload(entry, policy, maxBytes, report, tooLarge, transfers).finally(() => {
      const index = running.indexOf(entry);
      if (index !== -1) running.splice(index, 1);
    });
  });
  // A listener makes Playwright intercept the chooser: no dialog opens and no file is set unless we set one.
  page.on('filechooser', (chooser) => {
    if (transfers.dismissForAgent(chooser)) return;
    if (policy.uploads === 'allow') void transfers.offerChooser(chooser).catch(() => undefined);
    else report({ type: 'blocked', what: 'upload', reason: 'uploads are blocked for this asset' });
  });
}

interface RunningDownload {
  download: Download;
  fileName: string;
  tooLarge: boolean;
}

async function handleDownload(
  entry: RunningDownload,
  policy: SessionPolicy,
  maxBytes: number,
  report: (event: BrowserEvent) => void,
  tooLarge: (entry: RunningDownload) => void,
  transfers: Transfers,
): Promise<void> {
  const { download, fileName } = entry;
  if (policy.downloads === 'block') {
    await download.cancel().catch(() => undefined);
    report({ type: 'blocked', what: 'download', url: describeUrl(download.url()), reason: `downloads are blocked for this asset (${fileName})` });
    return;
  }
  try {
    const path = await download.path();
    if (entry.tooLarge) return;
    const result = await transfers.keepDownload(path, fileName, maxBytes);
    // The session's copy is what the owner gets; the browser's own file is not needed any more.
    await download.delete().catch(() => undefined);
    if ('tooLarge' in result) {
      // Grew past the cap between two progress events, or no progress was seen: not kept either.
      tooLarge(entry);
      return;
    }
    if ('kept' in result) report({ type: 'download', ...result.kept });
  } catch {
    if (entry.tooLarge) return;
    report({ type: 'blocked', what: 'download', url: describeUrl(download.url()), reason: `download failed (${fileName})` });
    report({ type: 'download_dropped', fileName: safeFileName(fileName), reason: 'failed' });
  }
}
