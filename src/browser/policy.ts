import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { BrowserContext, Download, Page } from 'playwright-core';
import type { BrowserEvent, SessionPolicy } from './types.js';
import { describeUrl } from './url-guard.js';

/** Context options that follow the asset's policy; set when the context is created. */
export function contextPolicyOptions(policy: SessionPolicy): { acceptDownloads: boolean } {
  return { acceptDownloads: policy.downloads === 'allow' };
}

/** Page scripts may call the reporting binding themselves: a cap keeps a hostile page from flooding the audit trail. */
const MAX_CLIPBOARD_REPORTS = 20;

/**
 * Clipboard: the permissions are granted only for what the policy allows, and what it denies is
 * also refused in every frame by an init script (writing to the clipboard needs no permission in
 * Chromium while the page has focus).
 */
export async function applyClipboardPolicy(context: BrowserContext, policy: SessionPolicy, report: (event: BrowserEvent) => void): Promise<void> {
  const granted = [...(policy.clipboardCopy === 'allow' ? ['clipboard-write'] : []), ...(policy.clipboardPaste === 'allow' ? ['clipboard-read'] : [])];
  if (granted.length > 0) await context.grantPermissions(granted);
  const denyCopy = policy.clipboardCopy === 'deny';
  const denyPaste = policy.clipboardPaste === 'deny';
  if (!denyCopy && !denyPaste) return;
  let reports = 0;
  await context.exposeBinding('__webassetClipboardBlocked', (_source, kind: unknown) => {
    if (reports >= MAX_CLIPBOARD_REPORTS) return;
    reports += 1;
    report({ type: 'blocked', what: 'clipboard', reason: kind === 'paste' ? 'clipboard paste is denied for this asset' : 'clipboard copy is denied for this asset' });
  });
  await context.addInitScript({ content: clipboardScript(denyCopy, denyPaste) });
}

function clipboardScript(denyCopy: boolean, denyPaste: boolean): string {
  // Runs in every frame before the page's own scripts. Plain ES5-ish text: it is not compiled by tsc.
  return `(() => {
  const report = globalThis.__webassetClipboardBlocked;
  const refuse = (kind) => () => { try { report && report(kind); } catch (e) {} return Promise.reject(new DOMException('Clipboard access is not allowed', 'NotAllowedError')); };
  const clip = globalThis.navigator && navigator.clipboard;
  if (clip) {
    const proto = Object.getPrototypeOf(clip);
    const lock = (name, kind) => { try { Object.defineProperty(proto, name, { value: refuse(kind), writable: false, configurable: false }); } catch (e) {} };
    if (${denyCopy}) { lock('write', 'copy'); lock('writeText', 'copy'); }
    if (${denyPaste}) { lock('read', 'paste'); lock('readText', 'paste'); }
  }
  const exec = Document.prototype.execCommand;
  Object.defineProperty(Document.prototype, 'execCommand', { configurable: false, writable: false, value: function (command, ...rest) {
    const c = String(command).toLowerCase();
    if ((${denyCopy} && (c === 'copy' || c === 'cut')) || (${denyPaste} && c === 'paste')) { try { report && report(c === 'paste' ? 'paste' : 'copy'); } catch (e) {} return false; }
    return exec.call(this, command, ...rest);
  } });
})();`;
}

/** Downloads and uploads of one page (tab), per policy. */
export function watchPagePolicy(page: Page, policy: SessionPolicy, report: (event: BrowserEvent) => void): void {
  page.on('download', (download) => {
    void handleDownload(download, policy, report);
  });
  // A listener makes Playwright intercept the chooser: no dialog opens and no file is set unless we set one.
  page.on('filechooser', () => {
    report({
      type: 'blocked',
      what: 'upload',
      reason: policy.uploads === 'block' ? 'uploads are blocked for this asset' : 'no file source is connected to this session',
    });
  });
}

async function handleDownload(download: Download, policy: SessionPolicy, report: (event: BrowserEvent) => void): Promise<void> {
  const fileName = download.suggestedFilename().slice(0, 255);
  if (policy.downloads === 'block') {
    await download.cancel().catch(() => undefined);
    report({ type: 'blocked', what: 'download', url: describeUrl(download.url()), reason: `downloads are blocked for this asset (${fileName})` });
    return;
  }
  try {
    const path = await download.path();
    const { size, sha256 } = await digest(path);
    report({ type: 'download', fileName, size, sha256 });
  } catch {
    report({ type: 'blocked', what: 'download', url: describeUrl(download.url()), reason: `download failed (${fileName})` });
  }
}

async function digest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    hash.update(bytes);
  }
  return { size, sha256: hash.digest('hex') };
}
