import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserPool, BrowserSession, SessionPolicy } from '../../src/browser/index.js';
import { createBrowserPool, findChromium, MAX_KEPT_DOWNLOADS } from '../../src/browser/index.js';
import { answerEcho, eventLog, html, keptFolders, loopbackLookup, silentLogger, spec, startSite, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

// Downloads, uploads and the clipboard follow the asset's policy. Each control sits at a fixed
// place on the page and is clicked through session.input, as an operator would.

const FILE = Buffer.from('account,balance\nchecking,1024.50\n');
const BUTTON = 'position:absolute;left:20px;top:20px;width:200px;height:40px';
let pool: BrowserPool;
let site: Site;
const echoes: string[] = [];

beforeAll(async () => {
  site = await startSite((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/echo':
        return answerEcho(url, res, echoes);
      case '/statement.csv':
        res.writeHead(200, { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="statement.csv"', 'content-length': String(FILE.length) });
        return res.end(FILE);
      case '/download':
        return html(res, `<a id="d" href="/statement.csv" style="${BUTTON};display:block">download</a>`);
      case '/broken.csv':
        // Promises more than it sends, then hangs up: the browser's download fails.
        res.writeHead(200, { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="broken.csv"', 'content-length': '100000' });
        res.write(FILE);
        return void setTimeout(() => res.socket?.destroy(), 50);
      case '/download-broken':
        return html(res, `<a id="d" href="/broken.csv" style="${BUTTON};display:block">download</a>`);
      case '/upload':
        return html(res, `<input id="u" type="file" style="${BUTTON}">`);
      case '/upload-many':
        return html(
          res,
          `<input id="u" type="file" multiple accept=".csv, text/plain, bad value, image/*" style="${BUTTON}" onchange="fetch('/echo?v=' + encodeURIComponent([...this.files].map((f) => f.name + ':' + f.size).join('|') || 'none'))">`,
        );
      case '/copy':
        return html(
          res,
          `<button style="${BUTTON}" onclick="navigator.clipboard.writeText('copied').then(() => fetch('/echo?v=copy-ok'), () => fetch('/echo?v=copy-refused'))">copy</button>`,
        );
      case '/service-worker':
        return html(res, `<script>(navigator.serviceWorker ? navigator.serviceWorker.register('/sw.js') : Promise.reject(new Error('none'))).then(() => fetch('/echo?v=sw-ok'), () => fetch('/echo?v=sw-refused'));</script>`);
      case '/sw.js':
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end('self.addEventListener("fetch", () => {});');
      case '/paste':
        return html(
          res,
          `<button style="${BUTTON}" onclick="navigator.clipboard.readText().then(() => fetch('/echo?v=paste-ok'), () => fetch('/echo?v=paste-refused'))">paste</button>`,
        );
      default:
        return html(res, 'portal');
    }
  });
  // The Clipboard API exists only in secure contexts: the test portal (plain http) is declared one.
  const secure = `--unsafely-treat-insecure-origin-as-secure=${site.url('portal.test', '').replace(/\/$/, '')}`;
  pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: [...TEST_LAUNCH_ARGS, secure], lookup: loopbackLookup });
});
afterAll(async () => {
  await pool?.close();
  await site?.close();
});

const BLOCK_ALL: SessionPolicy = { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' };

async function openAt(path: string, policy: Partial<SessionPolicy> = {}) {
  const log = eventLog();
  const session = await pool.open(spec({ onEvent: log.onEvent, policy: { ...BLOCK_ALL, ...policy } }));
  await session.navigate(site.url('portal.test', path));
  return { session, log };
}

async function click(session: BrowserSession): Promise<void> {
  await session.input({ type: 'mouse', action: 'down', x: 60, y: 40, button: 'left' });
  await session.input({ type: 'mouse', action: 'up', x: 60, y: 40, button: 'left' });
}

describe('downloads', () => {
  it('block: cancelled and reported', async () => {
    const { session, log } = await openAt('/download');
    await click(session);
    expect(await log.waitFor((e) => e.type === 'blocked' && e.what === 'download')).toMatchObject({ reason: expect.stringContaining('statement.csv') });
    expect(log.events.some((e) => e.type === 'download')).toBe(false);
    await session.close();
  });

  it('allow: kept for the owner under an id, reported with file name, size and SHA-256; the copy goes with the session', async () => {
    const { session, log } = await openAt('/download', { downloads: 'allow' });
    await click(session);
    const event = await log.waitFor((e) => e.type === 'download');
    expect(event).toEqual({ type: 'download', id: expect.any(String), fileName: 'statement.csv', size: FILE.length, sha256: createHash('sha256').update(FILE).digest('hex') });
    const id = (event as { id: string }).id;
    expect(session.transfers.downloads()).toEqual([{ id, fileName: 'statement.csv', size: FILE.length, sha256: (event as { sha256: string }).sha256 }]);
    const opened = await session.transfers.openDownload(id);
    const chunks: Buffer[] = [];
    for await (const chunk of opened!.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(FILE)).toBe(true);
    expect(await session.transfers.openDownload('00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(keptFolders(session.sessionId)).toHaveLength(1);
    await session.close();
    expect(keptFolders(session.sessionId)).toEqual([]);
    expect(session.transfers.downloads()).toEqual([]);
    expect(await session.transfers.openDownload(id)).toBeNull();
  });

  it('allow, past the session limit: the oldest kept download makes room and is reported dropped, under its id', async () => {
    const { session, log } = await openAt('/download', { downloads: 'allow' });
    const kept = () => log.events.filter((e) => e.type === 'download') as Array<{ id: string }>;
    // One at a time: a click while the previous download starts could cancel its navigation.
    for (let i = 1; i <= MAX_KEPT_DOWNLOADS + 1; i++) {
      await click(session);
      await waitUntil(() => kept().length >= i, 15_000, () => `download ${i} of ${MAX_KEPT_DOWNLOADS + 1}`);
    }
    const dropped = await log.waitFor((e) => e.type === 'download_dropped');
    // With what it was kept with, for the audit record of its discard.
    expect(dropped).toEqual({ type: 'download_dropped', id: kept()[0]!.id, fileName: 'statement.csv', size: FILE.length, sha256: createHash('sha256').update(FILE).digest('hex'), reason: 'session_limit' });
    expect(session.transfers.downloads().map((d) => d.id)).toEqual(kept().slice(1).map((d) => d.id));
    expect(await session.transfers.openDownload(kept()[0]!.id)).toBeNull();
    expect(log.events.filter((e) => e.type === 'download_dropped')).toHaveLength(1);
    await session.close();
  });

  it('allow, a download that fails: reported blocked and dropped (no id: it was never kept)', async () => {
    const { session, log } = await openAt('/download-broken', { downloads: 'allow' });
    await click(session);
    // The browser retries the broken transfer a few times (each through the egress proxy, which must pass the hang-up on), then gives up.
    expect(await log.waitFor((e) => e.type === 'download_dropped')).toEqual({ type: 'download_dropped', fileName: 'broken.csv', reason: 'failed' });
    expect(log.events.find((e) => e.type === 'blocked' && e.what === 'download')).toMatchObject({ reason: 'download failed (broken.csv)' });
    expect(log.events.some((e) => e.type === 'download')).toBe(false);
    expect(session.transfers.downloads()).toEqual([]);
    await session.close();
  });
});

describe('uploads', () => {
  it('block: the file chooser is refused and reported, no file is set', async () => {
    const { session, log } = await openAt('/upload');
    await click(session);
    expect(await log.waitFor((e) => e.type === 'blocked' && e.what === 'upload')).toMatchObject({ reason: 'uploads are blocked for this asset' });
    expect(log.events.some((e) => e.type === 'upload')).toBe(false);
    expect(log.events.some((e) => e.type === 'file_chooser')).toBe(false);
    await session.close();
  });

  it('allow: the chooser waits under an id; the files are set as buffers with safe names, once; a newer chooser replaces it; cancel sets none', async () => {
    const { session, log } = await openAt('/upload-many', { uploads: 'allow' });
    await click(session);
    const chooser = (await log.waitFor((e) => e.type === 'file_chooser')) as { id: string; multiple: boolean; accept: string[] };
    expect(chooser).toMatchObject({ multiple: true, accept: ['.csv', 'text/plain', 'image/*'] });
    expect(session.transfers.pendingChooser()).toEqual({ id: chooser.id, multiple: true, accept: ['.csv', 'text/plain', 'image/*'] });
    // A second click opens a newer chooser: the first is closed.
    await click(session);
    const newer = (await log.waitFor((e) => e.type === 'file_chooser' && e.id !== chooser.id)) as { id: string };
    expect(log.events).toContainEqual({ type: 'file_chooser_closed', id: chooser.id });
    await expect(session.transfers.setFiles(chooser.id, [{ name: 'a.csv', mimeType: 'text/csv', buffer: FILE }], async () => undefined)).rejects.toMatchObject({ code: 'file_chooser_closed' });
    await expect(session.transfers.setFiles('nope', [{ name: 'a.csv', mimeType: 'text/csv', buffer: FILE }], async () => undefined)).rejects.toMatchObject({ code: 'not_found' });
    await expect(session.transfers.setFiles(newer.id, [{ name: 'big.bin', mimeType: 'x/y', buffer: Buffer.alloc(25 * 1024 * 1024 + 1) }], async () => undefined)).rejects.toMatchObject({ code: 'payload_too_large' });
    // A refusal of the caller's `before` (the audit) sets nothing and leaves the chooser waiting.
    await expect(session.transfers.setFiles(newer.id, [{ name: 'a.csv', mimeType: 'text/csv', buffer: FILE }], async () => Promise.reject(new Error('audit down')))).rejects.toThrow('audit down');
    const seen: unknown[] = [];
    const uploaded = await session.transfers.setFiles(
      newer.id,
      [
        { name: '../../etc/passwd', mimeType: 'text/plain', buffer: Buffer.from('one') },
        { name: 'C:\\temp\\re\u0000port\u202e.csv', mimeType: 'not a type', buffer: FILE },
      ],
      async (files) => void seen.push(files),
    );
    expect(uploaded.map((f) => f.name)).toEqual(['passwd', 'report.csv']);
    expect(seen).toEqual([uploaded]);
    await waitUntil(() => echoes.includes(`passwd:3|report.csv:${FILE.length}`), 15_000, () => JSON.stringify(echoes));
    expect(await log.waitFor((e) => e.type === 'upload')).toEqual({ type: 'upload', fileNames: ['passwd', 'report.csv'], sizes: [3, FILE.length], sha256: uploaded.map((f) => f.sha256) });
    await expect(session.transfers.cancelChooser(newer.id)).rejects.toMatchObject({ code: 'file_chooser_closed' });
    // Cancel: the page gets no file.
    await click(session);
    const third = (await log.waitFor((e) => e.type === 'file_chooser' && e.id !== chooser.id && e.id !== newer.id)) as { id: string };
    await session.transfers.cancelChooser(third.id);
    expect(session.transfers.pendingChooser()).toBeNull();
    await session.close();
    await expect(session.transfers.cancelChooser(third.id)).rejects.toMatchObject({ code: 'session_ended' });
  });
});

describe('clipboard', () => {
  it('deny: copy and paste are refused in the page and reported', async () => {
    const copy = await openAt('/copy');
    await click(copy.session);
    await waitUntil(() => echoes.includes('copy-refused'), 15_000, () => JSON.stringify(echoes));
    expect(await copy.log.waitFor((e) => e.type === 'blocked' && e.what === 'clipboard')).toMatchObject({ reason: expect.stringContaining('copy') });
    await copy.session.close();

    const paste = await openAt('/paste');
    await click(paste.session);
    await waitUntil(() => echoes.includes('paste-refused'), 15_000, () => JSON.stringify(echoes));
    expect(await paste.log.waitFor((e) => e.type === 'blocked' && e.what === 'clipboard')).toMatchObject({ reason: expect.stringContaining('paste') });
    await paste.session.close();
    expect(echoes).not.toContain('copy-ok');
    expect(echoes).not.toContain('paste-ok');
  });

  it("allow: the page's copy goes to the session's copy listeners (not to the browser's clipboard); the page never reads the clipboard", async () => {
    const copy = await openAt('/copy', { clipboardCopy: 'allow', clipboardPaste: 'allow' });
    const copied: Array<{ text: string; truncated: boolean }> = [];
    copy.session.onCopy((c) => copied.push(c));
    await click(copy.session);
    await waitUntil(() => echoes.includes('copy-ok'), 15_000, () => JSON.stringify(echoes));
    expect(await waitUntil(() => copied[0], 15_000)).toEqual({ text: 'copied', truncated: false });
    expect(await copy.log.waitFor((e) => e.type === 'clipboard')).toEqual({ type: 'clipboard', direction: 'copy', chars: 6 });
    await copy.session.navigate(site.url('portal.test', '/paste'));
    const refusedBefore = echoes.filter((e) => e === 'paste-refused').length;
    await click(copy.session);
    await waitUntil(() => echoes.filter((e) => e === 'paste-refused').length > refusedBefore, 15_000, () => JSON.stringify(echoes));
    expect(await copy.log.waitFor((e) => e.type === 'blocked' && e.what === 'clipboard')).toMatchObject({ reason: expect.stringContaining('may not read the clipboard') });
    await copy.session.close();
  });
});

describe('service workers', () => {
  it('are never registered (a worker could answer requests the lock never sees)', async () => {
    const { session, log } = await openAt('/service-worker');
    await waitUntil(() => echoes.includes('sw-refused'), 15_000, () => JSON.stringify(echoes));
    expect(await log.waitFor((e) => e.type === 'blocked' && e.what === 'service_worker')).toMatchObject({ reason: 'service workers are not allowed' });
    expect(echoes).not.toContain('sw-ok');
    expect(site.hits).not.toContain('portal.test /sw.js');
    await session.close();
  });
});
