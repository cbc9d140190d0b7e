import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserPool, BrowserSession, SessionPolicy } from '../../src/browser/index.js';
import { createBrowserPool, findChromium } from '../../src/browser/index.js';
import { answerEcho, eventLog, html, loopbackLookup, silentLogger, spec, startSite, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

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
      case '/upload':
        return html(res, `<input id="u" type="file" style="${BUTTON}">`);
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

  it('allow: reported with file name, size and SHA-256', async () => {
    const { session, log } = await openAt('/download', { downloads: 'allow' });
    await click(session);
    expect(await log.waitFor((e) => e.type === 'download')).toEqual({
      type: 'download',
      fileName: 'statement.csv',
      size: FILE.length,
      sha256: createHash('sha256').update(FILE).digest('hex'),
    });
    await session.close();
  });
});

describe('uploads', () => {
  it('block: the file chooser is refused and reported, no file is set', async () => {
    const { session, log } = await openAt('/upload');
    await click(session);
    expect(await log.waitFor((e) => e.type === 'blocked' && e.what === 'upload')).toMatchObject({ reason: 'uploads are blocked for this asset' });
    expect(log.events.some((e) => e.type === 'upload')).toBe(false);
    await session.close();
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
