import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AppError } from '../core/index.js';
import { createAgentControls } from './agent/controls.js';
import { startEgressProxy } from './egress-proxy.js';
import { createInputDispatcher } from './input.js';
import { createInputRecorder } from './input-events.js';
import { runLogin } from './login/index.js';
import { installNavigationLock, type NavigationLock } from './navigation-lock.js';
import { installClipboardGuard, MAX_PASTE_CHARS } from './clipboard.js';
import { contextPolicyOptions, watchPagePolicy } from './policy.js';
import { createScreencasts } from './screencast.js';
import { createTabs, type Tab } from './tabs.js';
import { createTransfers } from './transfers.js';
import type { BrowserEvent, BrowserSession, ContextSpec, CopiedText, InputEvent, LoginInput, LoginOutcome, ScreencastFrame, ScreencastOptions, SessionPolicy, TabInfo } from './types.js';
import { createUrlGuard, describeUrl, type UrlGuard } from './url-guard.js';

export const DEFAULT_VIEWPORT = { width: 1280, height: 720 } as const;
const NAVIGATION_TIMEOUT_MS = 30_000;
/** Distinct refusals reported per session (each is reported once). */
const MAX_DISTINCT_BLOCKED = 1000;

/** A session as the pool holds it: the public handle plus what only the pool may do. */
export interface PooledSession extends BrowserSession {
  /** The browser died under the session: it ends with browser_crashed. */
  crashed(): void;
}

/** What a context is built with before it belongs to a session; sessions of the same shape can take a context prepared ahead. */
export interface SessionShape {
  viewport: { width: number; height: number };
  policy: SessionPolicy;
  recordKeystrokes: 'masked' | 'plain';
}

export function shapeOf(spec: ContextSpec): SessionShape {
  return { viewport: checkViewport(spec.viewport ?? DEFAULT_VIEWPORT), policy: spec.policy, recordKeystrokes: spec.recordKeystrokes ?? 'masked' };
}

/** Equal keys: a context prepared for one shape serves a session of the other. */
export function shapeKey(shape: SessionShape): string {
  const { policy } = shape;
  return JSON.stringify([shape.viewport.width, shape.viewport.height, policy.downloads, policy.uploads, policy.clipboardCopy, policy.clipboardPaste, policy.maxDownloadBytes ?? null, shape.recordKeystrokes]);
}

/**
 * A context opened ahead of its session (pool.ts keeps one ready): navigation lock, policy,
 * clipboard guard and first tab are in place, and its URL guard refuses everything until a session
 * claims it, so it cannot load anything before it is someone's. One context, one session: a spare
 * is claimed at most once and never returned.
 */
export interface SpareSession {
  readonly key: string;
  /** Ended before a session claimed it (the browser died). */
  readonly closed: boolean;
  /** Hands the context to `spec`'s session: its hosts, its events (the ones so far included) and its id. Throws when the shape differs or it was claimed. */
  claim(spec: ContextSpec): PooledSession;
  close(): Promise<void>;
}

/** Before a session claims a context, nothing may leave it. */
const UNCLAIMED: UrlGuard = { check: () => ({ ok: false, reason: 'the context belongs to no session yet' }) };
/** Longest a claimed session holds the pool busy before its login or first page begins. */
const START_HOLD_MS = 2000;
/** Events a spare reports before its claim (its first tab opening): delivered to the session that claims it. */
const MAX_EARLY_EVENTS = 20;

export interface OpenDeps {
  browser: Browser;
  logger: Logger;
  lookup?: LookupFunction | undefined;
  /** The browser's downloadsPath: running downloads are measured there (policy.ts). */
  downloadsDir?: string | undefined;
  onEnded(session: PooledSession): void;
  /** A login starts (+1) or ends (-1): the pool prepares spares only while no login runs. */
  onBusy?(change: 1 | -1): void;
  /** Someone acted in the session (input, paste, an agent's tool): the pool waits for quiet before opening a spare. */
  onActivity?(): void;
}

/** Opens one session's isolated context (see prepareBrowserSession). */
export async function openBrowserSession(deps: OpenDeps & { spec: ContextSpec }): Promise<PooledSession> {
  const spare = await prepareBrowserSession({ ...deps, shape: shapeOf(deps.spec) });
  return spare.claim(deps.spec);
}

/**
 * Opens an isolated context in the order DESIGN.md asks for: the navigation lock and the policy
 * are installed on the context before its first page exists, then the first tab opens. The
 * session it is for is given at claim().
 */
export async function prepareBrowserSession(deps: OpenDeps & { shape: SessionShape }): Promise<SpareSession> {
  const { shape, logger } = deps;
  const key = shapeKey(shape);
  const viewport = shape.viewport;
  let spec: ContextSpec | undefined;
  let hosts: UrlGuard = UNCLAIMED;
  const guard: UrlGuard = { check: (url) => hosts.check(url) };
  const early: BrowserEvent[] = [];
  const sessionId = () => spec?.sessionId ?? '(not claimed yet)';
  let closed = false;
  let loggingIn = false;
  /** Aborted when the session ends: a login in flight stops at once. */
  const ending = new AbortController();
  let size = viewport;
  /** When the operator last pressed a key or a mouse button (performance.now()); a copy is handed out only soon after. */
  let lastInputAt = -Infinity;
  const copyListeners = new Set<(copied: CopiedText) => void>();

  const reported = new Set<string>();
  const report = (event: BrowserEvent) => {
    if (closed && event.type !== 'ended') return;
    // A portal page that pulls trackers from other hosts would otherwise audit the same refusal on every load.
    if (event.type === 'blocked') {
      const key = `${event.what} ${event.url ?? ''} ${event.reason}`;
      if (reported.has(key)) return;
      if (reported.size >= MAX_DISTINCT_BLOCKED) {
        if (reported.size > MAX_DISTINCT_BLOCKED) return;
        reported.add('(overflow)');
        event = { type: 'blocked', what: 'request', reason: `more than ${MAX_DISTINCT_BLOCKED} distinct refusals; further ones are not reported` };
      } else reported.add(key);
    }
    if (!spec) {
      if (early.length < MAX_EARLY_EVENTS) early.push(event);
      return;
    }
    try {
      spec.onEvent(event);
    } catch (error) {
      logger.warn({ sessionId: sessionId(), eventType: event.type, err: error }, 'browser event listener failed');
    }
  };

  const transfers = createTransfers({ dir: deps.downloadsDir, sessionId, agentOwned: () => spec?.ownerKind === 'agent', report });

  const proxy = await startEgressProxy({
    guard,
    lookup: deps.lookup,
    block: (what, url, reason) => report({ type: 'blocked', what, url: describeUrl(url), reason: `egress: ${reason}` }),
  });
  let context: BrowserContext;
  let lock: NavigationLock;
  try {
    context = await deps.browser.newContext({ viewport, serviceWorkers: 'block', proxy: { server: proxy.server }, ...contextPolicyOptions(shape.policy) });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  try {
    lock = await installNavigationLock(context, { guard, report });
    await installClipboardGuard(context, {
      policy: shape.policy,
      report,
      sinceLastInput: () => performance.now() - lastInputAt,
      onCopy: (copied) => {
        if (closed) return;
        inputs.clipboard('copy', [...copied.text].length);
        for (const listener of copyListeners) {
          try {
            listener(copied);
          } catch (error) {
            logger.warn({ sessionId: sessionId(), err: error }, 'clipboard copy listener failed');
          }
        }
      },
    });
  } catch (error) {
    await context.close().catch(() => undefined);
    await proxy.close();
    throw error;
  }

  const screencasts = createScreencasts({
    openCdp: async () => (tabs.active && !closed ? context.newCDPSession(tabs.active.page) : undefined),
    withheld: () => loggingIn,
    pageSize: () => size,
    onAttachFailed: (error, attempts) => {
      if (closed) return;
      const message = error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200);
      logger.warn({ sessionId: sessionId(), attempts, error: message }, 'screencast could not re-attach to the active tab; its viewers get no frames until the next tab switch or restart');
    },
  });
  const tabs = createTabs({
    report,
    onActiveChanged: () => void screencasts.restart().catch(() => undefined),
    // Pages also close when the browser dies (before Playwright reports the disconnect): a round
    // trip to the browser tells the two apart, so a crash is never recorded as an ordinary close.
    onLastClosed: () => {
      void context.cookies().then(
        () => end(deps.browser.isConnected() ? 'closed' : 'browser_crashed'),
        () => end('browser_crashed'),
      );
    },
  });
  const dispatch = createInputDispatcher();
  const inputs = createInputRecorder({
    report,
    keystrokes: shape.recordKeystrokes,
  });
  const registering = new Map<Page, Promise<Tab>>();

  const register = (page: Page): Promise<Tab> => {
    let pending = registering.get(page);
    if (!pending) {
      pending = (async () => {
        const cdp = await context.newCDPSession(page);
        lock.watchPage(page, cdp);
        watchPagePolicy(page, shape.policy, report, cdp, deps.downloadsDir, transfers);
        if (size.width !== viewport.width || size.height !== viewport.height) await page.setViewportSize(size).catch(() => undefined);
        const tab = tabs.add(page, cdp);
        const navigated = () => {
          const url = page.url();
          if (!/^https?:/.test(url)) return;
          void page.title().then(
            (title) => {
              tab.title = title.slice(0, 300);
              report({ type: 'navigated', tabId: tab.id, url: describeUrl(url), title: tab.title });
            },
            () => undefined,
          );
        };
        page.on('framenavigated', (frame) => {
          if (frame !== page.mainFrame()) return;
          inputs.prepare(tab);
          navigated();
        });
        // A popup may have committed its first page before it was registered.
        navigated();
        return tab;
      })();
      registering.set(page, pending);
    }
    return pending;
  };

  let stopping = false;
  const end = async (reason: 'closed' | 'browser_crashed') => {
    if (stopping) return;
    stopping = true;
    releaseStartHold();
    // The field being typed into is reported before the session stops reporting.
    await inputs.flush();
    closed = true;
    copyListeners.clear();
    ending.abort();
    await screencasts.stopAll().catch(() => undefined);
    if (reason === 'closed') await context.close().catch(() => undefined);
    await transfers.close();
    await proxy.close();
    report({ type: 'ended', reason });
    deps.onEnded(session);
  };

  context.on('page', (page) => {
    register(page).catch((error: unknown) => {
      // A popup that could not be locked down is not left open.
      logger.warn({ sessionId: sessionId(), err: error }, 'could not set up a new tab; closing it');
      void page.close().catch(() => undefined);
    });
  });

  try {
    const first = await context.newPage();
    lock.markOwn(first);
    await register(first);
  } catch (error) {
    closed = true;
    await context.close().catch(() => undefined);
    await proxy.close();
    throw error;
  }

  const agent = createAgentControls({
    activeTab: () => {
      deps.onActivity?.();
      const tab = requireOpen();
      if (loggingIn) throw new AppError('conflict', { publicMessage: 'The session is still logging in; try again when it is active.' });
      return tab;
    },
    tabCount: () => (closed ? 0 : tabs.all().length),
    guard,
    report,
    duringAction: (run) => transfers.duringAgentAction(run),
  });

  const session: PooledSession = {
    get sessionId() {
      return sessionId();
    },
    agent,
    transfers: transfers.handle,
    get closed() {
      return closed;
    },
    async login(input: LoginInput): Promise<LoginOutcome> {
      const tab = requireOpen();
      if (loggingIn) throw new AppError('conflict', { publicMessage: 'A login is already running in this session.' });
      loggingIn = true;
      deps.onBusy?.(1);
      releaseStartHold();
      try {
        const signal = input.signal ? AbortSignal.any([input.signal, ending.signal]) : ending.signal;
        return await runLogin(tab.page, context, { ...input, signal }, { isAllowedOrigin: (url) => guard.check(url).ok });
      } finally {
        loggingIn = false;
        deps.onBusy?.(-1);
        // Chromium sends frames only on change: a restart gives the viewer the logged-in page at once.
        if (!closed) await screencasts.restart().catch(() => undefined);
      }
    },
    async navigate(url: string): Promise<void> {
      const tab = requireOpen();
      const verdict = typeof url === 'string' ? guard.check(url) : { ok: false as const, reason: 'not a URL' };
      if (!verdict.ok) {
        report({ type: 'blocked', what: 'navigation', url: describeUrl(String(url)), reason: verdict.reason });
        throw new AppError('forbidden', { publicMessage: 'This address is outside the hosts this asset allows.' });
      }
      // A refused redirect or an unreachable portal ends the load with an error page: the session goes on.
      await tab.page.goto(url, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS }).catch(() => undefined);
      releaseStartHold();
    },
    async startScreencast(options: ScreencastOptions, onFrame: (frame: ScreencastFrame) => void) {
      requireOpen();
      return screencasts.add(options, onFrame);
    },
    async input(event: InputEvent): Promise<void> {
      if (closed || loggingIn) return;
      deps.onActivity?.();
      const tab = tabs.active;
      if (!tab) return;
      if (isActivation(event)) lastInputAt = performance.now();
      const recorded = await inputs.before(tab, event);
      try {
        await dispatch(tab.cdp, event);
        recorded?.();
      } catch (error) {
        if (error instanceof AppError) throw error;
        // The tab closed under the event: input to a closed tab is dropped.
      }
    },
    async paste(text: string): Promise<'inserted' | 'denied' | 'ignored'> {
      if (typeof text !== 'string' || text.length > MAX_PASTE_CHARS) {
        throw new AppError('invalid_request', { publicMessage: `Pasted text must be at most ${MAX_PASTE_CHARS} characters.` });
      }
      if (closed || loggingIn) return 'ignored';
      if (shape.policy.clipboardPaste !== 'allow') {
        report({ type: 'blocked', what: 'clipboard', reason: 'clipboard paste is denied for this asset' });
        return 'denied';
      }
      const tab = tabs.active;
      if (!tab || text.length === 0) return 'ignored';
      lastInputAt = performance.now();
      try {
        await tab.cdp.send('Input.insertText', { text });
      } catch {
        // The tab closed under the paste: dropped, like other input.
        return 'ignored';
      }
      inputs.clipboard('paste', [...text].length);
      return 'inserted';
    },
    onCopy(listener: (copied: CopiedText) => void): () => void {
      copyListeners.add(listener);
      return () => copyListeners.delete(listener);
    },
    tabs(): TabInfo[] {
      return closed ? [] : tabs.list();
    },
    async switchTab(tabId: string): Promise<void> {
      requireOpen();
      const tab = tabs.byId(tabId);
      if (!tab) throw new AppError('not_found', { publicMessage: 'No such tab in this session.' });
      tabs.activate(tab);
      await tab.page.bringToFront().catch(() => undefined);
    },
    async resize(width: number, height: number): Promise<void> {
      requireOpen();
      size = checkViewport({ width, height });
      await Promise.all(tabs.all().map((tab) => tab.page.setViewportSize(size).catch(() => undefined)));
    },
    async close(): Promise<void> {
      await end('closed');
    },
    crashed(): void {
      void end('browser_crashed');
    },
  };

  // From its claim until its login (or first page) begins, a session counts as busy for the pool,
  // so a spare is not opened in the gap between the two (the start's audit and recording writes).
  let startHold: NodeJS.Timeout | undefined;
  function holdForStart(): void {
    if (!deps.onBusy) return;
    deps.onBusy(1);
    startHold = setTimeout(releaseStartHold, START_HOLD_MS);
    startHold.unref();
  }
  function releaseStartHold(): void {
    if (startHold === undefined) return;
    clearTimeout(startHold);
    startHold = undefined;
    deps.onBusy?.(-1);
  }

  const spare: SpareSession = {
    key,
    get closed() {
      return closed;
    },
    claim(claimant) {
      if (spec) throw new TypeError('a context serves one session only');
      if (shapeKey(shapeOf(claimant)) !== key) throw new TypeError('the session needs a context of another shape');
      spec = claimant;
      holdForStart();
      hosts = createUrlGuard({ allowedHosts: claimant.allowedHosts, allowInsecureHttp: claimant.allowInsecureHttp });
      for (const event of early.splice(0)) report(event);
      return session;
    },
    close: () => end('closed'),
  };

  function requireOpen(): Tab {
    const tab = tabs.active;
    if (closed || !tab) throw new AppError('session_ended');
    return tab;
  }

  return spare;
}

/** Input that counts as the operator's own action for a copy that follows (a press, a key, typed text). */
function isActivation(event: InputEvent): boolean {
  if (!event || typeof event !== 'object') return false;
  if (event.type === 'mouse') return event.action === 'down' || event.action === 'dblclick';
  return event.type === 'key' ? event.action === 'down' : event.type === 'text';
}

function checkViewport(viewport: { width: number; height: number }): { width: number; height: number } {
  const ok = (value: number, max: number) => Number.isInteger(value) && value >= 100 && value <= max;
  if (!ok(viewport.width, 7680) || !ok(viewport.height, 4320)) {
    throw new AppError('invalid_request', { publicMessage: 'The viewport must be whole numbers, 100 to 7680 wide and 100 to 4320 high.' });
  }
  return { width: viewport.width, height: viewport.height };
}

