import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    return html(res, 'ok');
  });
});
afterAll(async () => {
  await site?.close();
});

function markedPool() {
  const marker = `--webasset-test-pool=${randomBytes(6).toString('hex')}`;
  const pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: [...TEST_LAUNCH_ARGS, marker], lookup: loopbackLookup });
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
