import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, type BrowserEvent, type BrowserPool } from '../../src/browser/index.js';
import { installNavigationLock } from '../../src/browser/navigation-lock.js';
import { createUrlGuard } from '../../src/browser/url-guard.js';
import { eventLog, html, spec, startSite, startTestPool, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

// Local and internal schemes. A page cannot navigate itself to them (Chromium refuses renderer-initiated
// navigations to file:, chrome:, view-source: and data:), but the browser side can: a recipe's goto, a
// future agent tool. Both paths are tried: the session's navigate() refuses them before Chromium sees
// them, and the lock itself (driven here with page.goto, as a browser-initiated navigation) reports
// whatever commits and sends the frame back to about:blank.

let site: Site;
beforeAll(async () => {
  site = await startSite((req, res) => {
    switch (req.url) {
      case '/tricks':
        return html(
          res,
          `<script>
            for (const url of ['file:///etc/passwd', 'chrome://settings', 'view-source:' + location.href, 'data:text/html,<h1>data</h1>', 'javascript:document.title="pwned"']) {
              try { window.open(url); } catch (e) {}
            }
            setTimeout(() => { try { location.href = 'file:///etc/passwd'; } catch (e) {} }, 0);
          </script>`,
        );
      default:
        return html(res, `<h1>portal</h1>`);
    }
  });
});
afterAll(async () => {
  await site?.close();
});

const blockedNavigation = (fragment: string) => (event: BrowserEvent) => event.type === 'blocked' && event.what === 'navigation' && (event.url ?? '').startsWith(fragment);

describe('blocked schemes: the lock, with browser-initiated navigations', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: TEST_LAUNCH_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function lockedPage() {
    const events: BrowserEvent[] = [];
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const lock = await installNavigationLock(context, {
      guard: createUrlGuard({ allowedHosts: ['portal.test'], allowInsecureHttp: true }),
      report: (event) => events.push(event),
    });
    const page = await context.newPage();
    lock.markOwn(page);
    lock.watchPage(page);
    await page.goto(site.url('portal.test', '/'));
    return { context, page, events };
  }

  it.each([
    ['file:///etc/passwd', 'file:'],
    ['chrome://version', 'chrome:'],
    ['devtools://devtools/bundled/inspector.html', 'devtools:'],
    ['data:text/html,<h1>data</h1>', 'data:'],
  ])('%s is reported and never stays on screen', async (url, scheme) => {
    const { context, page, events } = await lockedPage();
    await page.goto(url).catch(() => undefined);
    await waitUntil(() => events.find(blockedNavigation(scheme)), 15_000, () => JSON.stringify(events));
    await waitUntil(() => !page.url().startsWith(scheme) && page.url() !== '', 15_000, () => page.url());
    expect(page.url()).not.toContain('passwd');
    await context.close();
  });

  it('view-source: never shows a source view', async () => {
    const { context, page } = await lockedPage();
    await page.goto(`view-source:${site.url('portal.test', '/')}`).catch(() => undefined);
    const cdp = await context.newCDPSession(page);
    const history = await cdp.send('Page.getNavigationHistory');
    expect(history.entries.map((entry) => entry.url).filter((url) => url.startsWith('view-source:'))).toEqual([]);
    await context.close();
  });

  it('javascript: URLs do not run as a navigation', async () => {
    const { context, page } = await lockedPage();
    await page.goto('javascript:document.title="pwned"').catch(() => undefined);
    expect(await page.title()).not.toBe('pwned');
    await context.close();
  });
});

describe('blocked schemes: a session', () => {
  let pool: BrowserPool;
  beforeAll(() => {
    pool = startTestPool();
  });
  afterAll(async () => {
    await pool?.close();
  });

  it.each(['file:///etc/passwd', 'chrome://settings', 'view-source:http://portal.test/', 'data:text/html,x', 'javascript:alert(1)', 'blob:http://portal.test/1', 'devtools://devtools/'])(
    'navigate(%s) is refused and reported',
    async (url) => {
      const log = eventLog();
      const session = await pool.open(spec({ onEvent: log.onEvent }));
      await expect(session.navigate(url)).rejects.toMatchObject({ code: 'forbidden' });
      expect(await log.waitFor((e) => e.type === 'blocked' && e.what === 'navigation')).toMatchObject({ reason: expect.stringContaining('scheme') });
      await session.close();
    },
  );

  it('a page that opens file:, chrome://settings, view-source:, data: and javascript: windows shows none of them, reports them, and the browser lives on', async () => {
    const log = eventLog();
    const session = await pool.open(spec({ onEvent: log.onEvent }));
    await session.navigate(site.url('portal.test', '/tricks'));
    // Chromium refuses these before any request or window exists; its security log is what reports them.
    const refused = (url: string, scheme: string) => (e: BrowserEvent) =>
      e.type === 'blocked' && e.what === 'navigation' && (e.url ?? '').startsWith(url) && e.reason === `scheme ${scheme} is not allowed (refused by Chromium)`;
    await log.waitFor(refused('chrome://settings/', 'chrome:'));
    await log.waitFor(refused('file:/etc/passwd', 'file:'));
    await log.waitFor(refused('view-source:http://portal.test:', 'view-source:'));
    await session.navigate(site.url('portal.test', '/after'));
    await log.waitFor((e) => e.type === 'navigated' && e.url.endsWith('/after'));
    const shown = session.tabs().map((tab) => tab.url);
    expect(shown.filter((url) => /^(file|chrome|view-source|data|javascript|devtools):/.test(url))).toEqual([]);
    const navigations = log.events.filter((e) => e.type === 'navigated' || e.type === 'tab_opened' || e.type === 'tab_switched');
    expect(navigations.map((e) => ('url' in e ? (e.url ?? '') : '')).filter((url) => /^(file|chrome|view-source|data|javascript|devtools):/.test(url))).toEqual([]);
    expect(session.closed).toBe(false);
    await session.close();
  });
});
