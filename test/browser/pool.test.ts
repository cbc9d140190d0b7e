import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { prepareBrowserSession, shapeOf } from '../../src/browser/browser-session.js';
import { createBrowserPool, findChromium, type BrowserEvent } from '../../src/browser/index.js';
import { markedBrowserPids } from '../support/browser-processes.js';
import { eventLog, html, loopbackLookup, silentLogger, spec, startSite, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

// The pool against a real Chromium. Each pool gets a marker switch (Chromium ignores unknown
// switches) so the test can find its browser's main process in /proc, count and kill it.

let site: Site;
const cookiesSeen: Array<string | undefined> = [];
beforeAll(async () => {
  site = await startSite((req, res) => {
    if (req.url === '/set') return html(res, 'set', { 'set-cookie': 'portal_session=alice; Path=/; HttpOnly' });
    if (req.url === '/check') cookiesSeen.push(req.headers.cookie);
    if (req.url === '/cookie') return html(res, `<p id="cookie">${(req.headers.cookie ?? 'none').replace(/[<&]/g, '')}</p>`);
    return html(res, 'ok');
  });
});
afterAll(async () => {
  await site?.close();
});

function markedPool(options: { spareContexts?: number; spareQuietMs?: number } = {}) {
  const marker = `--webasset-test-pool=${randomBytes(6).toString('hex')}`;
  const pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: [...TEST_LAUNCH_ARGS, marker], lookup: loopbackLookup, ...options });
  /** Main browser processes of this pool. */
  const browserPids = () => markedBrowserPids(marker);
  return { pool, browserPids };
}

describe('browser pool', () => {
  it('launches one browser for concurrent opens, lazily', async () => {
    const { pool, browserPids } = markedPool();
    expect(browserPids()).toEqual([]);
    const sessions = await Promise.all([1, 2, 3].map(() => pool.open(spec({ onEvent: () => undefined }))));
    expect(browserPids()).toHaveLength(1);
    expect(pool.size).toBe(3);
    await sessions[0]!.close();
    expect(pool.size).toBe(2);
    await pool.close();
    expect(pool.size).toBe(0);
    await waitUntil(() => browserPids().length === 0);
    await expect(pool.open(spec({ onEvent: () => undefined }))).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('gives each session its own cookies', async () => {
    const { pool } = markedPool();
    const alice = await pool.open(spec({ onEvent: () => undefined }));
    const bob = await pool.open(spec({ onEvent: () => undefined }));
    await alice.navigate(site.url('portal.test', '/set'));
    await alice.navigate(site.url('portal.test', '/check'));
    await bob.navigate(site.url('portal.test', '/check'));
    expect(cookiesSeen).toEqual(['portal_session=alice', undefined]);
    await pool.close();
  });

  it('ends every session with browser_crashed when Chromium is killed, and the next open starts a new browser', async () => {
    const { pool, browserPids } = markedPool();
    const logs = [eventLog(), eventLog()];
    const sessions = await Promise.all(logs.map((log) => pool.open(spec({ onEvent: log.onEvent }))));
    await sessions[0]!.navigate(site.url('portal.test', '/before'));
    const [pid] = browserPids();
    expect(pid).toBeTypeOf('number');
    process.kill(pid!, 'SIGKILL');

    for (const log of logs) {
      expect(await log.waitFor((e: BrowserEvent) => e.type === 'ended')).toEqual({ type: 'ended', reason: 'browser_crashed' });
    }
    expect(sessions.every((session) => session.closed)).toBe(true);
    expect(pool.size).toBe(0);
    // The handle of a crashed session: input is dropped, other operations say the session ended.
    await expect(sessions[0]!.input({ type: 'text', text: 'x' })).resolves.toBeUndefined();
    await expect(sessions[0]!.switchTab('tab-1')).rejects.toMatchObject({ code: 'session_ended' });

    const log = eventLog();
    const next = await pool.open(spec({ onEvent: log.onEvent }));
    await next.navigate(site.url('portal.test', '/after-crash'));
    await log.waitFor((e) => e.type === 'navigated' && e.url.endsWith('/after-crash'));
    expect(browserPids()).toHaveLength(1);
    expect(browserPids()).not.toContain(pid);
    await next.close();
    expect(log.events.at(-1)).toEqual({ type: 'ended', reason: 'closed' });
    await pool.close();
  });

  it('refuses a remote debugging port', () => {
    expect(() => createBrowserPool({ chromiumPath: '/usr/bin/chromium', logger: silentLogger, launchArgs: ['--remote-debugging-port=9222'] })).toThrow(/debugging/);
  });

  it('answers browser_unavailable when Chromium cannot start', async () => {
    const pool = createBrowserPool({ chromiumPath: '/bin/false', logger: silentLogger, launchArgs: TEST_LAUNCH_ARGS });
    await expect(pool.open(spec({ onEvent: () => undefined }))).rejects.toMatchObject({ code: 'browser_unavailable' });
    await pool.close();
  });
});

describe('spare contexts', () => {
  const blocked = { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' } as const;

  it('opens none before the first session and never launches a browser for one', async () => {
    const { pool, browserPids } = markedPool({ spareContexts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.spares).toBe(0);
    expect(browserPids()).toEqual([]);
    await pool.close();
  });

  it('hands the next session of the same policy a fresh context, locked to that session\'s hosts, and opens another', async () => {
    const { pool } = markedPool({ spareContexts: 1 });
    const firstLog = eventLog();
    const first = await pool.open(spec({ allowedHosts: ['portal.test'], onEvent: firstLog.onEvent }));
    await first.navigate(site.url('portal.test', '/set'));
    await waitUntil(() => pool.spares === 1);

    // Another asset with the same policy but other hosts takes the spare.
    const log = eventLog();
    const second = await pool.open(spec({ allowedHosts: ['other.test'], onEvent: log.onEvent }));
    expect(pool.spares).toBe(0);
    // The events of its first tab, from before the claim, are its own.
    expect(log.events.slice(0, 2)).toEqual([
      { type: 'tab_opened', tabId: 'tab-1', url: 'about:blank' },
      { type: 'tab_switched', tabId: 'tab-1', url: 'about:blank' },
    ]);
    expect(firstLog.events.filter((e) => e.type === 'tab_opened')).toHaveLength(1);
    // The claiming session's hosts hold, not the first session's and not "nothing".
    await second.navigate(site.url('other.test', '/cookie'));
    await log.waitFor((e) => e.type === 'navigated' && e.url.endsWith('other.test:' + site.port + '/cookie'));
    await expect(second.navigate(site.url('portal.test', '/check'))).rejects.toMatchObject({ code: 'forbidden' });
    await log.waitFor((e) => e.type === 'blocked' && e.what === 'navigation');

    // A third session of that policy gets a context of its own again: no cookie of the first.
    await waitUntil(() => pool.spares === 1);
    const third = await pool.open(spec({ allowedHosts: ['portal.test'], onEvent: () => undefined }));
    await third.navigate(site.url('portal.test', '/check'));
    expect(cookiesSeen.at(-1)).toBeUndefined();
    expect(pool.size).toBe(3);
    await pool.close();
    expect(pool.spares).toBe(0);
  });

  it('keeps a spare for the policy last used: another policy opens its own context', async () => {
    const { pool } = markedPool({ spareContexts: 1 });
    await pool.open(spec({ onEvent: () => undefined }));
    await waitUntil(() => pool.spares === 1);
    const log = eventLog();
    const other = await pool.open(spec({ policy: { ...blocked, clipboardCopy: 'allow' }, onEvent: log.onEvent }));
    await other.navigate(site.url('portal.test', '/check'));
    expect(pool.size).toBe(2);
    // Now the newer policy has the one spare.
    await waitUntil(() => pool.spares === 1);
    await pool.close();
  });

  it('opens a spare only once the sessions have been quiet (no input) for the quiet time', async () => {
    const { pool } = markedPool({ spareContexts: 1, spareQuietMs: 2000 });
    const session = await pool.open(spec({ onEvent: () => undefined }));
    await session.navigate(site.url('portal.test', '/check'));
    // Input every 100 ms for a second: never 2 s of quiet, so no spare yet.
    for (let i = 0; i < 10; i++) {
      await session.input({ type: 'mouse', action: 'move', x: 10 + i, y: 10 });
      expect(pool.spares).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitUntil(() => pool.spares === 1);
    await pool.close();
  });

  it('a context serves one session only, of its own policy', async () => {
    const browser = await chromium.launch({ executablePath: findChromium(undefined), args: TEST_LAUNCH_ARGS, headless: true });
    try {
      const shape = shapeOf(spec({ onEvent: () => undefined }));
      const spare = await prepareBrowserSession({ browser, shape, logger: silentLogger, lookup: loopbackLookup, onEnded: () => undefined });
      expect(() => spare.claim(spec({ policy: { ...blocked, downloads: 'allow' }, onEvent: () => undefined }))).toThrow(/another shape/);
      const session = spare.claim(spec({ onEvent: () => undefined }));
      expect(() => spare.claim(spec({ onEvent: () => undefined }))).toThrow(/one session only/);
      await session.close();
      expect(spare.closed).toBe(true);
    } finally {
      await browser.close();
    }
  });

  it('drops its spares when Chromium dies; the next session starts a new browser', async () => {
    const { pool, browserPids } = markedPool({ spareContexts: 1 });
    const first = await pool.open(spec({ onEvent: () => undefined }));
    await waitUntil(() => pool.spares === 1);
    const [pid] = browserPids();
    process.kill(pid!, 'SIGKILL');
    await waitUntil(() => first.closed && pool.spares === 0);
    const log = eventLog();
    const next = await pool.open(spec({ onEvent: log.onEvent }));
    await next.navigate(site.url('portal.test', '/after-crash'));
    await log.waitFor((e) => e.type === 'navigated' && e.url.endsWith('/after-crash'));
    expect(browserPids()).not.toContain(pid);
    await pool.close();
    await waitUntil(() => browserPids().length === 0);
  });
});
