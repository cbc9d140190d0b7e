import type { Frame, Page, Request } from 'playwright-core';
import type { MutationWatch } from './page-reader.js';

/** A navigation's new document is waited for at most this long (DOMContentLoaded). */
export const NAVIGATION_SETTLE_MS = 5_000;
/** A page that submitted a form or started a navigation has its request waited for at most this long. */
export const LEAVING_WAIT_MS = 1_500;
/** The DOM counts as settled after this long without a change... */
export const QUIET_MS = 60;
/** ...or after this long in all. */
export const QUIET_CAP_MS = 1_500;
const POLL_MS = 20;
const WOKEN = Symbol('woken');

export type Effect = 'navigated' | 'changed' | 'none';

/** What one settle wait observes of its tab's events; the tab's listeners feed the wait in progress. */
interface Observation {
  main: Frame;
  navigation: Request | undefined;
  sameDocument: boolean;
  loaded: boolean;
  /** A 204/205 answer to the navigation: the page stays as it was. */
  noDocument: boolean;
  popup: Page | undefined;
  inflight: Set<Request>;
  /** When the last fetch/XHR of the wait ended (Date.now()). */
  lastDone: number;
  notify(): void;
}

/**
 * The settle waits of one tab. Its page listeners are added once, for the tab's life, rather
 * than per action (each first listener and each last removal of a network event is a message to
 * Playwright's server); they feed only the wait in progress.
 */
export function createSettle(page: Page) {
  let current: Observation | undefined;
  page.on('request', (request) => {
    const o = current;
    if (!o) return;
    if (request.isNavigationRequest() && request.frame() === o.main) {
      o.navigation = request;
      o.notify();
    } else if (request.resourceType() === 'fetch' || request.resourceType() === 'xhr') o.inflight.add(request);
  });
  const onDone = (request: Request) => {
    const o = current;
    if (!o) return;
    if (o.inflight.delete(request)) o.lastDone = Date.now();
    if (request === o.navigation) o.notify();
  };
  page.on('requestfinished', onDone);
  page.on('requestfailed', onDone);
  page.on('domcontentloaded', () => {
    if (!current) return;
    current.loaded = true;
    current.notify();
  });
  page.on('response', (response) => {
    const o = current;
    if (o && response.request() === o.navigation && (response.status() === 204 || response.status() === 205)) {
      o.noDocument = true;
      o.notify();
    }
  });
  page.on('popup', (opened) => {
    if (!current) return;
    current.popup = opened;
    current.notify();
  });
  page.on('framenavigated', (frame) => {
    if (current && frame === current.main && !current.navigation) current.sameDocument = true;
  });

  return {
    /**
     * Runs an action and waits for what it caused, with bounded waits and no fixed sleeps: a main-frame
     * navigation that starts before the DOM is quiet is followed to its new document's DOMContentLoaded
     * (at most {@link NAVIGATION_SETTLE_MS}); otherwise the DOM (watched by a MutationObserver in an
     * isolated world) and the page's fetch/XHR requests must be quiet for {@link QUIET_MS}, at most
     * {@link QUIET_CAP_MS}. A popup the action opened counts as a navigation (the caller reads the new active tab);
     * with `expectPopup` (a link that targets a new window) the popup is waited for. `watch` is the
     * DOM watch started before the action (`reader.watchMutations()`); the caller ends it after
     * (`reader.read(watch)` or `watch.stop()`), and this ends it when the action fails.
     */
    after<T>(watch: MutationWatch, action: () => Promise<T>, options: { popupOpened(): boolean; expectPopup?: boolean }): Promise<{ value: T; effect: Effect }> {
      const wake = new Set<() => void>();
      const o: Observation = {
        main: page.mainFrame(),
        navigation: undefined,
        sameDocument: false,
        loaded: false,
        noDocument: false,
        popup: undefined,
        inflight: new Set(),
        lastDone: 0,
        notify: () => {
          for (const w of wake) w();
        },
      };
      current = o;
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
      return settle(o, watch, action, options, signal).then(
        (result) => {
          if (current === o) current = undefined;
          return result;
        },
        async (error: unknown) => {
          if (current === o) current = undefined;
          await watch.stop().catch(() => undefined);
          throw error;
        },
      );
    },
  };
}

export type Settle = ReturnType<typeof createSettle>;

async function settle<T>(o: Observation, watch: MutationWatch, action: () => Promise<T>, options: { popupOpened(): boolean; expectPopup?: boolean }, signal: (ms: number) => Promise<void>): Promise<{ value: T; effect: Effect }> {
  // Waits until `done()` (checked whenever the tab's events wake the wait, and at least every 250 ms) or `ms` passed.
  const until = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) await signal(Math.min(250, deadline - Date.now()));
  };
  const value = await action();
  const started = Date.now();
  // A link or form that targets a new window: its popup is waited for (bounded), however slow the machine.
  if (options.expectPopup) await until(() => !!o.popup || !!o.navigation || options.popupOpened(), NAVIGATION_SETTLE_MS);
  let changed = false;
  let leavingWaited = false;
  for (;;) {
    if (o.navigation || o.loaded || o.popup || options.popupOpened()) break;
    const elapsed = Date.now() - started;
    if (elapsed >= QUIET_CAP_MS) break;
    // Without a watch (the page could not be read), quiet is judged by time and requests alone.
    if (!watch.active) {
      if (elapsed >= QUIET_MS && o.inflight.size === 0) break;
      await signal(POLL_MS);
      continue;
    }
    // The page answers once its DOM is quiet (one round trip); a navigation or a popup ends the wait sooner.
    const asked = Date.now();
    const state = await Promise.race([watch.quiet(QUIET_MS, QUIET_CAP_MS - elapsed), signal(QUIET_CAP_MS - elapsed).then((): typeof WOKEN => WOKEN)]);
    if (state === WOKEN) continue;
    if (state === undefined) {
      // The document went away under the watch: a navigation is committing.
      if (o.navigation) break;
      await signal(POLL_MS);
      continue;
    }
    changed ||= state.count > 0;
    if (state.leaving && !leavingWaited) {
      // The page submitted a form or started a navigation: its request is on its way from the browser.
      leavingWaited = true;
      await until(() => !!o.navigation || o.loaded || !!o.popup, LEAVING_WAIT_MS);
      continue;
    }
    // Requests the action started (fetch, XHR) are waited for too, within the cap, and then a quiet
    // period after the last one ended (what its answer changes comes after it).
    if (o.inflight.size === 0 && o.lastDone < asked) break;
    if (o.inflight.size > 0) await signal(POLL_MS);
  }
  const navigation = o.navigation;
  if (navigation) {
    // Loaded, or the navigation failed (refused by the lock, a download, a 204) and nothing commits.
    await until(() => o.loaded || o.noDocument || navigation.failure() !== null, NAVIGATION_SETTLE_MS);
    return { value, effect: 'navigated' };
  }
  const popup = o.popup;
  if (popup || options.popupOpened()) {
    // The popup becomes the session's active tab once it is set up (locked down): its page is the result.
    const deadline = Date.now() + NAVIGATION_SETTLE_MS;
    await popup?.waitForLoadState('domcontentloaded', { timeout: NAVIGATION_SETTLE_MS }).catch(() => undefined);
    while (!options.popupOpened() && popup && !popup.isClosed() && Date.now() < deadline) await signal(POLL_MS);
    return { value, effect: 'navigated' };
  }
  if (o.loaded) return { value, effect: 'navigated' };
  return { value, effect: changed || o.sameDocument ? 'changed' : 'none' };
}
