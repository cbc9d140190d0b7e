import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installClipboardGuard } from '../../src/browser/clipboard.js';
import type { BrowserPool, BrowserSession, SessionPolicy } from '../../src/browser/index.js';
import { createBrowserPool, findChromium, MAX_COPY_CHARS } from '../../src/browser/index.js';
import { answerEcho, eventLog, html, loopbackLookup, silentLogger, spec, startSite, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

// Headless Chromium has ONE clipboard per browser process, shared by every BrowserContext
// (measured on Chromium 156: a writeText, an execCommand('copy') or a Ctrl+C in one context is
// read back by readText or Ctrl+V in another, and a selection by a middle click in another). One browser serves every user's sessions, so the
// remote clipboard must never carry anything: these tests copy in one session and try every way
// to read it back in another.

const FIELD = 'position:absolute;left:20px;top:20px;width:300px;height:40px';
const BUTTON = 'position:absolute;left:20px;top:100px;width:200px;height:40px';
let pool: BrowserPool;
let site: Site;
const echoes: string[] = [];

beforeAll(async () => {
  site = await startSite((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/echo') return answerEcho(url, res, echoes);
    if (url.pathname === '/password') return html(res, `<input id="p" type="password" autofocus style="${FIELD}">`);
    // Copies on its own, with no input from the operator.
    if (url.pathname === '/unprompted') return html(res, `<script>setInterval(() => navigator.clipboard.writeText('unprompted-text').then(() => fetch('/echo?v=unprompted-ok')), 200);</script>`);
    if (url.pathname === '/long') return html(res, `<textarea id="t" autofocus style="${FIELD}"></textarea><script>document.getElementById('t').value = 'x'.repeat(70000);</script>`);
    const tag = url.searchParams.get('tag') ?? '';
    const value = url.searchParams.get('value') ?? '';
    // A field that reports its value on every change, and buttons that use the page's own clipboard commands.
    return html(
      res,
      `<input id="f" autofocus value="${value}" style="${FIELD}" oninput="fetch('/echo?v=${tag}:' + encodeURIComponent(this.value))">` +
        `<button id="b" style="${BUTTON}" onclick="${url.pathname === '/write' ? `navigator.clipboard.writeText('${value}-api').catch(() => {}); document.getElementById('f').select(); document.execCommand('copy')` : `navigator.clipboard.readText().then((t) => fetch('/echo?v=${tag}-read:' + encodeURIComponent(t)), () => fetch('/echo?v=${tag}-read-refused'))`}">go</button>`,
    );
  });
  const secure = `--unsafely-treat-insecure-origin-as-secure=${site.url('portal.test', '').replace(/\/$/, '')}`;
  pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: [...TEST_LAUNCH_ARGS, secure], lookup: loopbackLookup });
});
afterAll(async () => {
  await pool?.close();
  await site?.close();
});

const ALLOW_ALL: SessionPolicy = { downloads: 'block', uploads: 'block', clipboardCopy: 'allow', clipboardPaste: 'allow' };

async function open(path: string, policy: SessionPolicy): Promise<BrowserSession> {
  const session = await pool.open(spec({ onEvent: eventLog().onEvent, policy }));
  await session.navigate(site.url('portal.test', path));
  return session;
}

async function press(session: BrowserSession, x: number, y: number): Promise<void> {
  await session.input({ type: 'mouse', action: 'down', x, y, button: 'left' });
  await session.input({ type: 'mouse', action: 'up', x, y, button: 'left' });
}

async function shortcut(session: BrowserSession, letter: string): Promise<void> {
  await session.input({ type: 'key', action: 'down', key: 'Control', code: 'ControlLeft' });
  await session.input({ type: 'key', action: 'down', key: letter, code: `Key${letter.toUpperCase()}` });
  await session.input({ type: 'key', action: 'up', key: letter, code: `Key${letter.toUpperCase()}` });
  await session.input({ type: 'key', action: 'up', key: 'Control', code: 'ControlLeft' });
}

/** Tries every way a session has to read the process clipboard: Ctrl+V into its field (then types a marker) and readText. */
async function readBack(reader: BrowserSession, tag: string): Promise<void> {
  await press(reader, 100, 40);
  await shortcut(reader, 'v');
  await reader.input({ type: 'text', text: 'Z' });
  await waitUntil(() => echoes.some((e) => e.startsWith(`${tag}:`) && e.endsWith('Z')), 30_000, () => JSON.stringify(echoes));
  await press(reader, 60, 120);
  await waitUntil(() => echoes.some((e) => e.startsWith(`${tag}-read`)), 30_000, () => JSON.stringify(echoes));
}

describe('the clipboard is never shared between sessions (one browser process, many users)', () => {
  for (const copy of ['allow', 'deny'] as const) {
    it(`a Ctrl+C in one session (copy ${copy}) is not pasted or read in another`, async () => {
      const secret = `kb-secret-${copy}-7f3a`;
      const writer = await open(`/field?value=${secret}`, { ...ALLOW_ALL, clipboardCopy: copy });
      await press(writer, 100, 40);
      await shortcut(writer, 'a');
      await shortcut(writer, 'c');
      const reader = await open(`/field?tag=kb-${copy}`, ALLOW_ALL);
      await readBack(reader, `kb-${copy}`);
      expect(echoes.filter((e) => e.includes(secret))).toEqual([]);
      await writer.close();
      await reader.close();
    });
  }

  it('a selection in one session is not pasted by a middle click in another (the X11-style primary selection is process-wide too)', async () => {
    const secret = 'selection-secret-2b7d';
    const writer = await open(`/field?value=${secret}`, ALLOW_ALL);
    await press(writer, 100, 40);
    await shortcut(writer, 'a');
    const reader = await open('/field?tag=middle', ALLOW_ALL);
    await reader.input({ type: 'mouse', action: 'down', x: 100, y: 40, button: 'middle' });
    await reader.input({ type: 'mouse', action: 'up', x: 100, y: 40, button: 'middle' });
    await readBack(reader, 'middle');
    expect(echoes.filter((e) => e.includes(secret))).toEqual([]);
    await writer.close();
    await reader.close();
  });

  it("a page's own writeText and execCommand('copy') in one session are not pasted or read in another", async () => {
    const secret = 'api-secret-91c4';
    const writer = await open(`/write?value=${secret}`, ALLOW_ALL);
    await press(writer, 60, 120);
    const reader = await open('/field?tag=api', ALLOW_ALL);
    await readBack(reader, 'api');
    expect(echoes.filter((e) => e.includes(secret))).toEqual([]);
    await writer.close();
    await reader.close();
  });
});

describe('copy out, in the browser module', () => {
  async function copied(session: BrowserSession): Promise<Array<{ text: string; truncated: boolean }>> {
    const got: Array<{ text: string; truncated: boolean }> = [];
    session.onCopy((c) => got.push(c));
    return got;
  }

  it('a cut hands the selection out and still removes it from the field', async () => {
    const session = await open('/field?tag=cut&value=cut-me', ALLOW_ALL);
    const got = await copied(session);
    await press(session, 100, 40);
    await shortcut(session, 'a');
    await shortcut(session, 'x');
    await session.input({ type: 'text', text: 'Q' });
    await waitUntil(() => echoes.includes('cut:Q'), 30_000, () => JSON.stringify(echoes));
    expect(got).toEqual([{ text: 'cut-me', truncated: false }]);
    await session.close();
  });

  it('a password field yields nothing; a long copy is cut to 64 KiB and marked truncated', async () => {
    const secret = await open('/password', ALLOW_ALL);
    const fromPassword = await copied(secret);
    await press(secret, 100, 40);
    await secret.input({ type: 'text', text: 'hunter2-password' });
    await shortcut(secret, 'a');
    await shortcut(secret, 'c');
    const long = await open('/long', ALLOW_ALL);
    const fromLong = await copied(long);
    await press(long, 100, 40);
    await shortcut(long, 'a');
    await shortcut(long, 'c');
    await waitUntil(() => fromLong[0], 30_000);
    expect(fromLong[0]!.truncated).toBe(true);
    expect(fromLong[0]!.text).toBe('x'.repeat(MAX_COPY_CHARS));
    expect(fromPassword).toEqual([]);
    await secret.close();
    await long.close();
  });

  it("a copy the page makes without the operator's input is not handed out (reported once as blocked)", async () => {
    const log = eventLog();
    const session = await pool.open(spec({ onEvent: log.onEvent, policy: ALLOW_ALL }));
    const got = await copied(session);
    await session.navigate(site.url('portal.test', '/unprompted'));
    await waitUntil(() => echoes.filter((e) => e === 'unprompted-ok').length >= 3, 30_000, () => JSON.stringify(echoes));
    expect(got).toEqual([]);
    expect(log.events.filter((e) => e.type === 'blocked')).toEqual([{ type: 'blocked', what: 'clipboard', reason: 'a copy without operator input was not handed to the viewer' }]);
    await session.close();
  });
});

describe('the process clipboard itself, read by an unguarded context of the same browser', () => {
  it('is left empty after a guarded copy, even when the page writes with another frame\'s DataTransfer methods', async () => {
    const browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...TEST_LAUNCH_ARGS] });
    try {
      const guarded = await browser.newContext();
      const handed: string[] = [];
      await installClipboardGuard(guarded, { policy: ALLOW_ALL, report: () => undefined, onCopy: (c) => handed.push(c.text), sinceLastInput: () => 0 });
      const reader = await browser.newContext();
      await reader.grantPermissions(['clipboard-read', 'clipboard-write']);
      const writerPage = await guarded.newPage();
      const readerPage = await reader.newPage();
      await writerPage.goto(site.url('127.0.0.1', '/field?tag=raw'));
      await readerPage.goto(site.url('127.0.0.1', '/field?tag=raw'));
      const readClipboard = async () => {
        await readerPage.bringToFront();
        return readerPage.evaluate('navigator.clipboard.readText()');
      };
      await readerPage.evaluate("navigator.clipboard.writeText('before')");
      await writerPage.bringToFront();
      // A hostile copy handler: a fresh frame's setData does not know the copy is ours to capture.
      await writerPage.evaluate(`(() => {
        const frame = document.createElement('iframe');
        document.body.appendChild(frame);
        const setData = frame.contentWindow.DataTransfer.prototype.setData;
        document.addEventListener('copy', (event) => setData.call(event.clipboardData, 'text/plain', 'raw-secret-5d2c'));
      })()`);
      await writerPage.focus('#f');
      await writerPage.keyboard.type('raw-typed-8e1b');
      await writerPage.keyboard.press('Control+A');
      await writerPage.keyboard.press('Control+C');
      await waitUntil(() => handed.length > 0, 15_000);
      expect(handed).toEqual(['raw-typed-8e1b']);
      await expect.poll(readClipboard, { timeout: 15_000 }).toBe('');
    } finally {
      await browser.close();
    }
  });
});
