import type { Page, Request, Response } from 'playwright-core';
import type { PageReader } from './page-reader.js';

/** A navigation's new document is waited for at most this long (DOMContentLoaded). */
export const NAVIGATION_SETTLE_MS = 5_000;
/** The DOM counts as settled after this long without a change... */
export const QUIET_MS = 60;
/** ...or after this long in all. */
export const QUIET_CAP_MS = 1_500;
const POLL_MS = 20;

export type Effect = 'navigated' | 'changed' | 'none';

/**
 * Runs an action and waits for what it caused, with bounded waits and no fixed sleeps: a main-frame
 * navigation that starts before the DOM is quiet is followed to its new document's DOMContentLoaded
 * (at most {@link NAVIGATION_SETTLE_MS}); otherwise the DOM (watched by a MutationObserver in an
 * isolated world) and the page's fetch/XHR requests must be quiet for {@link QUIET_MS}, at most
 * {@link QUIET_CAP_MS}. A popup the action opened counts as a navigation (the caller reads the new active tab);
 * with `expectPopup` (a link that targets a new window) the popup is waited for.
 */
export async function settleAfter<T>(page: Page, reader: PageReader, action: () => Promise<T>, options: { popupOpened(): boolean; expectPopup?: boolean }): Promise<{ value: T; effect: Effect }> {
  const main = page.mainFrame();
  let navigation: Request | undefined;
  let sameDocument = false;
  let loaded = false;
  const inflight = new Set<Request>();
  const wake = new Set<() => void>();
  const notify = () => {
    for (const w of wake) w();
  };
  const onRequest = (request: Request) => {
    if (request.isNavigationRequest() && request.frame() === main) {
      navigation = request;
      notify();
    } else if (request.resourceType() === 'fetch' || request.resourceType() === 'xhr') inflight.add(request);
  };
  const onDone = (request: Request) => {
    inflight.delete(request);
    if (request === navigation) notify();
  };
  const onLoaded = () => {
    loaded = true;
    notify();
  };
  /** A 204/205 answer to the navigation: the page stays as it was. */
  let noDocument = false;
  const onResponse = (response: Response) => {
    if (response.request() === navigation && (response.status() === 204 || response.status() === 205)) {
      noDocument = true;
      notify();
    }
  };
  let popup: Page | undefined;
  const onPopup = (opened: Page) => {
    popup = opened;
    notify();
  };
  const onNavigated = (frame: unknown) => {
    if (frame === main && !navigation) sameDocument = true;
  };
  page.on('request', onRequest);
  page.on('requestfinished', onDone);
  page.on('requestfailed', onDone);
  page.on('domcontentloaded', onLoaded);
  page.on('framenavigated', onNavigated);
  page.on('response', onResponse);
  page.on('popup', onPopup);
  const watch = await reader.watchMutations();
  const signal = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake.add(done);
    });
  try {
    const value = await action();
    const started = Date.now();
    // A link or form that targets a new window: its popup is waited for (bounded), however slow the machine.
    if (options.expectPopup) {
      const deadline = started + NAVIGATION_SETTLE_MS;
      while (!popup && !navigation && !options.popupOpened() && Date.now() < deadline) await signal(Math.min(250, deadline - Date.now()));
    }
    let changed = false;
    for (;;) {
      if (navigation || loaded || popup || options.popupOpened()) break;
      // Without a watch (the page could not be read), quiet is judged by time and requests alone.
      const state = watch.active ? await watch.read() : { count: 0, idleMs: Date.now() - started };
      if (state === undefined) {
        // The document went away under the watch: a navigation is committing.
        if (navigation) break;
        if (Date.now() - started >= QUIET_CAP_MS) break;
        await signal(POLL_MS);
        continue;
      }
      changed ||= state.count > 0;
      const elapsed = Date.now() - started;
      // Quiet counts from the action's end at the earliest: what its handlers start (a request, a timer) has that long to show.
      const idle = Math.min(state.idleMs, elapsed);
      if ((idle >= QUIET_MS && inflight.size === 0) || elapsed >= QUIET_CAP_MS) break;
      await signal(Math.max(5, Math.min(POLL_MS, QUIET_MS - idle, QUIET_CAP_MS - elapsed)));
    }
    if (navigation) {
      const deadline = Date.now() + NAVIGATION_SETTLE_MS;
      // Loaded, or the navigation failed (refused by the lock, a download, a 204) and nothing commits.
      while (!loaded && !noDocument && navigation.failure() === null && Date.now() < deadline) await signal(Math.min(250, deadline - Date.now()));
      return { value, effect: 'navigated' };
    }
    if (popup || options.popupOpened()) {
      // The popup becomes the session's active tab once it is set up (locked down): its page is the result.
      const deadline = Date.now() + NAVIGATION_SETTLE_MS;
      await popup?.waitForLoadState('domcontentloaded', { timeout: NAVIGATION_SETTLE_MS }).catch(() => undefined);
      while (!options.popupOpened() && popup && !popup.isClosed() && Date.now() < deadline) await signal(POLL_MS);
      return { value, effect: 'navigated' };
    }
    if (loaded) return { value, effect: 'navigated' };
    return { value, effect: changed || sameDocument ? 'changed' : 'none' };
  } finally {
    page.off('request', onRequest);
    page.off('requestfinished', onDone);
    page.off('requestfailed', onDone);
    page.off('domcontentloaded', onLoaded);
    page.off('framenavigated', onNavigated);
    page.off('response', onResponse);
    page.off('popup', onPopup);
    await watch.stop().catch(() => undefined);
  }
}
