import type { BrowserContext, CDPSession, Frame, Page, Request, Route } from 'playwright-core';
import { classifyCommittedUrl } from './blocked-schemes.js';
import type { BlockedWhat, BrowserEvent } from './types.js';
import { describeUrl, type UrlGuard } from './url-guard.js';

const MAX_PENDING_POPUPS = 100;
/** Page scripts can call the reporting binding themselves: a cap keeps them from flooding the audit trail. */
const MAX_PAGE_REPORTS = 20;

const REFUSE_SERVICE_WORKERS = `(() => {
  if (!self.ServiceWorkerContainer) return;
  const report = self.__webassetServiceWorkerBlocked;
  Object.defineProperty(ServiceWorkerContainer.prototype, 'register', { configurable: false, writable: false, value: function () {
    try { report && report(); } catch (e) {}
    return Promise.reject(new DOMException('Service workers are not allowed in this session', 'SecurityError'));
  } });
})();`;

export interface NavigationLockDeps {
  guard: UrlGuard;
  report(event: BrowserEvent): void;
}

export interface NavigationLock {
  /** Marks a page the session opened itself: its first navigation is not a popup's. */
  markOwn(page: Page): void;
  /**
   * Adds the per-page layers (committed-URL check; with the tab's CDP session, the report of what
   * Chromium itself refused) and closes refused popups; called before the page is used.
   */
  watchPage(page: Page, cdp?: CDPSession): void;
}

/**
 * The in-browser layers of the lock; the session's egress proxy (egress-proxy.ts) is the network
 * one, and the only one that sees redirect hops (Playwright continues those on its own) and
 * workers' WebSockets. See docs/decisions/0019-browser-pool-and-navigation-lock.md.
 * 1. a context route: the first request of everything the context loads, popups, iframes and
 *    workers included, before it leaves the browser, classified (request, navigation, popup);
 * 2. a check of every committed URL: chrome:, devtools:, data: and the like are not requests at
 *    all; a frame that lands on one (or on another host) is sent back to about:blank;
 * 3. a WebSocket route for pages' WebSockets, and service worker registration refused.
 */
export async function installNavigationLock(context: BrowserContext, deps: NavigationLockDeps): Promise<NavigationLock> {
  const guard = deps.guard;
  const report = (event: BrowserEvent) => deps.report(event);
  const marks: PageMarks = { own: new WeakSet(), committed: new WeakSet() };
  let serviceWorkerReports = 0;
  // A refused popup shows nothing but an error page: it is closed. Its page may appear before or
  // after the refusal, so both moments look for it (request.frame() resolves once the page exists).
  const blockedPopups = new Set<Request>();
  const closeBlockedPopups = () => {
    for (const request of blockedPopups) {
      let page: Page;
      try {
        page = request.frame().page();
      } catch {
        continue;
      }
      blockedPopups.delete(request);
      if (!marks.own.has(page) && !marks.committed.has(page)) page.close().catch(ignoreClosed);
    }
  };
  const block = (what: BlockedWhat, url: string, reason: string) => report({ type: 'blocked', what, url: describeUrl(url), reason });

  await context.route(
    () => true,
    async (route: Route, request: Request) => {
      // A service worker could answer the session's requests itself, out of the lock's sight: its
      // script fetch (marked by this header) never leaves, whatever the page's register() does.
      if (request.headers()['service-worker'] === 'script') {
        block('service_worker', request.url(), 'service workers are not allowed');
        await route.abort('blockedbyclient').catch(ignoreClosed);
        return;
      }
      const verdict = guard.check(request.url());
      if (verdict.ok) return route.continue().catch(ignoreClosed);
      const popup = isPopupNavigation(request, marks);
      block(popup ? 'popup' : request.isNavigationRequest() ? 'navigation' : 'request', request.url(), verdict.reason);
      await route.abort('blockedbyclient').catch(ignoreClosed);
      if (popup && blockedPopups.size < MAX_PENDING_POPUPS) {
        blockedPopups.add(request);
        closeBlockedPopups();
      }
    },
  );

  await context.exposeBinding('__webassetServiceWorkerBlocked', () => {
    if (serviceWorkerReports >= MAX_PAGE_REPORTS) return;
    serviceWorkerReports += 1;
    report({ type: 'blocked', what: 'service_worker', reason: 'service workers are not allowed' });
  });
  // Playwright's serviceWorkers: 'block' makes register() resolve as if it worked; refusing it tells the page the truth.
  await context.addInitScript({ content: REFUSE_SERVICE_WORKERS });

  await context.routeWebSocket(
    (url: URL) => !guard.check(url.href).ok,
    async (ws) => {
      const verdict = guard.check(ws.url());
      block('websocket', ws.url(), verdict.ok ? 'refused' : verdict.reason);
      await ws.close({ code: 1008, reason: 'blocked' }).catch(ignoreClosed);
    },
  );

  const watched = new WeakSet<Page>();
  return {
    markOwn(page) {
      marks.own.add(page);
    },
    watchPage(page, cdp) {
      if (watched.has(page)) return;
      watched.add(page);
      if (cdp) reportRefusedByChromium(cdp, block);
      // A popup whose first navigation was refused shows nothing but Chromium's error page: it is closed.
      const closeFailedPopup = () => {
        if (!marks.own.has(page) && !marks.committed.has(page) && page.url().startsWith('chrome-error:')) page.close().catch(ignoreClosed);
      };
      page.on('framenavigated', (frame) => {
        if (checkCommitted(frame, guard, block) && frame === page.mainFrame() && /^https?:/.test(frame.url())) marks.committed.add(page);
        if (frame === page.mainFrame()) closeFailedPopup();
      });
      closeFailedPopup();
      closeBlockedPopups();
    },
  };
}

/**
 * A page's own attempt at a local scheme (`window.open('chrome://settings')`, a link or `location`
 * to `file:`, a top-level `data:`) is refused by Chromium before any request or window exists, so
 * no other layer sees it. Chromium says so in a `security` log entry, which page scripts cannot
 * write (their console goes to another domain): that entry is reported as a blocked navigation.
 */
function reportRefusedByChromium(cdp: CDPSession, block: (what: BlockedWhat, url: string, reason: string) => void): void {
  cdp.on('Log.entryAdded', (event: { entry: { source: string; text: string } }) => {
    if (event.entry.source !== 'security') return;
    const refused = REFUSED_BY_CHROMIUM.exec(event.entry.text);
    if (!refused) return;
    const url = refused[1] ?? refused[2] ?? '';
    const scheme = classifyCommittedUrl(url);
    block('navigation', url, `${scheme.kind === 'blocked' ? scheme.reason : 'not allowed'} (refused by Chromium)`);
  });
  cdp.send('Log.enable').catch(ignoreClosed);
}

const REFUSED_BY_CHROMIUM = /^(?:Not allowed to load local resource: (\S+)|Not allowed to navigate top frame to data URL: (data:\S*))/;

/** True when the committed URL may stay. */
function checkCommitted(frame: Frame, guard: UrlGuard, block: (what: BlockedWhat, url: string, reason: string) => void): boolean {
  const url = frame.url();
  const scheme = classifyCommittedUrl(url);
  let reason: string | undefined;
  if (scheme.kind === 'blocked') reason = scheme.reason;
  else if (scheme.kind === 'web') {
    const verdict = guard.check(url);
    if (!verdict.ok) reason = verdict.reason;
  }
  if (reason === undefined) return true;
  block('navigation', url, reason);
  frame.goto('about:blank').catch(ignoreClosed);
  return false;
}

/**
 * A popup's first request arrives before Playwright knows its page, so `request.frame()` throws
 * for it: a navigation request without a frame is a new window. A page the session did not open
 * whose main frame has not shown a web page yet counts too.
 */
function isPopupNavigation(request: Request, pages: PageMarks): boolean {
  if (!request.isNavigationRequest()) return false;
  let page: Page;
  try {
    page = request.frame().page();
  } catch {
    return true;
  }
  return !pages.own.has(page) && !pages.committed.has(page) && request.frame() === page.mainFrame();
}

interface PageMarks {
  own: WeakSet<Page>;
  committed: WeakSet<Page>;
}

/** The page or context closed under an in-flight operation: nothing is left to protect. */
function ignoreClosed(): void {}

