import { mkdtempSync, rmSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { AppError } from '../core/index.js';
import { downloadsFolderPrefix, hostTag, PROCESS_RUN, sweepLeftoverDownloads } from './downloads-root.js';
import { prepareBrowserSession, shapeKey, shapeOf, type PooledSession, type SessionShape, type SpareSession } from './browser-session.js';
import type { BrowserPool, BrowserSession, ContextSpec } from './types.js';

/**
 * Chromium honours only the last --disable-features switch, and Playwright passes its own list
 * first (playwright-core 1.65, chromiumSwitches.ts): ours repeats that list, so none of it is lost.
 * A test checks that the launched browser's last --disable-features still holds every name Playwright passed.
 */
const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];
/**
 * Chromium's own traffic that --disable-background-networking leaves on: a page with a password
 * field makes it ask content-autofill.googleapis.com for field types (AutofillServerCommunication),
 * and Translate may ask translate.googleapis.com. The egress proxy refuses both, but each refusal
 * would be audited as the session's blocked request.
 */
const CHROMIUM_BACKGROUND_FEATURES = ['AutofillServerCommunication', 'Translate'];

/**
 * Flags this machine (and containers like it) needs. No --remote-debugging-port: Playwright
 * drives the browser over a pipe, so no DevTools endpoint is ever reachable from the network.
 */
export const DEFAULT_LAUNCH_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...CHROMIUM_BACKGROUND_FEATURES].join(',')}`,
];

export interface BrowserPoolDeps {
  chromiumPath: string;
  logger: Logger;
  /** Replaces DEFAULT_LAUNCH_ARGS (tests add --host-resolver-rules to give loopback servers real names). */
  launchArgs?: readonly string[];
  /** How each session's egress proxy resolves host names; default: the system resolver (tests map test names to 127.0.0.1). */
  lookup?: LookupFunction;
  /** Contexts kept opened ahead of sessions (WEBASSET_BROWSER_SPARE_CONTEXTS); default 0. */
  spareContexts?: number;
  /** How long no open, login, input or agent action must have run before a spare is opened; default SPARE_QUIET_MS. */
  spareQuietMs?: number;
  /**
   * Where each browser's downloads folder is made; default the system temp folder. Folders there
   * that dead processes of this host left are removed when the pool is created (downloads-root.ts).
   */
  downloadsRoot?: string;
}

/**
 * Spares take the CPU only when nobody else needs it: an agent acts at once after its login, and a
 * spare opened then (100+ ms of Chromium's work on 2 cores) slowed its first clicks by a third.
 */
export const SPARE_QUIET_MS = 500;

/** A context being opened, or opened, ahead of its session. */
interface SpareEntry {
  browser: Browser;
  ready: Promise<SpareSession | undefined>;
  /** Set once ready resolved to a spare. */
  spare?: SpareSession;
}

/**
 * One Chromium per node, started on first use and shared by every session, each in its own
 * BrowserContext. Concurrent opens share one launch. When the browser dies, each of its
 * sessions ends with browser_crashed and the next open starts a new browser.
 *
 * Opening a context (its egress proxy, navigation lock, policy and first tab) is about a fifth of
 * a start. With `spareContexts`, the pool opens contexts ahead for the policies most recently used,
 * one each, and hands one to the next session of that policy. Spares are opened only while no
 * open() and no login runs (they would compete for the same CPU), never launch a browser, and a
 * spare is claimed at most once: no two sessions ever share a context.
 */
export function createBrowserPool(deps: BrowserPoolDeps): BrowserPool {
  const { logger } = deps;
  const args = [...(deps.launchArgs ?? DEFAULT_LAUNCH_ARGS)];
  if (args.some((arg) => /^--remote-debugging-(port|address)/.test(arg))) throw new TypeError('a remote debugging port is never opened');
  const sessions = new Set<PooledSession>();
  let launching: Promise<Browser> | undefined;
  let closing = false;
  const spareLimit = deps.spareContexts ?? 0;
  /** Policies of the latest opens, most recent last, at most spareLimit: what the spares are for. */
  const wanted = new Map<string, SessionShape>();
  const spares = new Map<string, SpareEntry>();
  /** open() calls and logins in flight: spares wait until there are none. */
  let busy = 0;
  const quietMs = deps.spareQuietMs ?? SPARE_QUIET_MS;
  /** When the last open, login, input or agent action ended or happened (performance.now()). */
  let lastActivity = -Infinity;
  let refillTimer: NodeJS.Timeout | undefined;
  const downloadsRoot = deps.downloadsRoot ?? tmpdir();
  const folderOwner = { host: hostTag(hostname()), pid: process.pid, run: PROCESS_RUN };
  // What a crashed process of this host left (kept statements among it) goes before our first browser starts.
  const swept = sweepLeftoverDownloads({ root: downloadsRoot, owner: folderOwner }).then(
    (found) => {
      if (found.folders > 0) logger.info(found, 'removed downloads folders left by processes that ended without cleaning up');
    },
    (error: unknown) => logger.warn({ err: error }, 'could not look for downloads folders left by ended processes'),
  );

  const launch = async (): Promise<Browser> => {
    let browser: Browser;
    await swept;
    // Our own downloads folder (0700, one per browser), so a running download's partial file can be measured (policy.ts).
    const downloadsPath = mkdtempSync(join(downloadsRoot, downloadsFolderPrefix(folderOwner)));
    try {
      browser = await chromium.launch({ executablePath: deps.chromiumPath, args, headless: true, downloadsPath, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
    } catch (error) {
      rmSync(downloadsPath, { recursive: true, force: true });
      logger.error({ err: error, chromiumPath: deps.chromiumPath }, 'Chromium did not start');
      throw new AppError('browser_unavailable', { detail: `Chromium at ${deps.chromiumPath} did not start`, cause: error });
    }
    downloads.set(browser, downloadsPath);
    browser.on('disconnected', () => {
      rmSync(downloadsPath, { recursive: true, force: true });
      if (launching && current === browser) launching = undefined;
      if (closing) return;
      for (const [key, entry] of spares) {
        if (entry.browser !== browser) continue;
        spares.delete(key);
        void entry.ready.then((spare) => spare?.close());
      }
      const victims = [...sessions].filter((session) => owner.get(session) === browser);
      logger.error({ sessions: victims.length }, 'Chromium disconnected; its sessions end with browser_crashed');
      for (const session of victims) session.crashed();
    });
    logger.info({ version: browser.version() }, 'Chromium started');
    current = browser;
    return browser;
  };
  let current: Browser | undefined;
  const owner = new WeakMap<PooledSession, Browser>();
  const downloads = new WeakMap<Browser, string>();

  const onEnded = (ended: PooledSession) => {
    sessions.delete(ended);
  };
  const onActivity = () => {
    lastActivity = performance.now();
  };
  const onBusy = (change: 1 | -1) => {
    busy += change;
    onActivity();
    if (busy === 0) queueRefill();
  };
  const prepare = (browser: Browser, shape: SessionShape): Promise<SpareSession> =>
    prepareBrowserSession({ browser, shape, logger, lookup: deps.lookup, downloadsDir: downloads.get(browser), onEnded, onBusy, onActivity });

  /** The spare for `key` on `browser`, taken out of the pool (at most one caller gets it), or undefined. */
  const takeSpare = async (key: string, browser: Browser): Promise<SpareSession | undefined> => {
    const entry = spares.get(key);
    if (!entry) return undefined;
    spares.delete(key);
    const spare = await entry.ready;
    if (spare && (entry.browser !== browser || spare.closed)) {
      void spare.close();
      return undefined;
    }
    return spare;
  };

  /** Looks for a missing spare once the pool has been quiet for quietMs (later again while sessions keep acting). */
  function queueRefill(): void {
    if (refillTimer !== undefined || closing || spareLimit === 0) return;
    refillTimer = setTimeout(
      () => {
        refillTimer = undefined;
        if (performance.now() - lastActivity < quietMs) queueRefill();
        else refill();
      },
      Math.max(0, lastActivity + quietMs - performance.now()),
    );
    refillTimer.unref();
  }

  /** Opens the next missing spare (one at a time, only while nothing else runs), then looks again. */
  function refill(): void {
    const browser = current;
    if (busy > 0 || closing || !browser?.isConnected() || [...spares.values()].some((entry) => entry.ready === opening)) return;
    for (const [key, entry] of spares) {
      if (wanted.has(key)) continue;
      spares.delete(key);
      void entry.ready.then((spare) => spare?.close());
    }
    const missing = [...wanted].reverse().find(([key]) => !spares.has(key));
    if (!missing) return;
    const [key, shape] = missing;
    const ready = prepare(browser, shape).then(
      (spare) => spare,
      (error: unknown) => {
        // Not a session's failure: the next start opens its own context (and reports that failure if it repeats).
        if (browser.isConnected()) logger.warn({ err: error }, 'could not open a spare browser context');
        if (spares.get(key)?.ready === ready) spares.delete(key);
        return undefined;
      },
    );
    opening = ready;
    const entry: SpareEntry = { browser, ready };
    spares.set(key, entry);
    void ready.then((spare) => {
      if (spare) entry.spare = spare;
      if (opening === ready) opening = undefined;
      if (spares.get(key)?.ready === ready && closing) {
        spares.delete(key);
        void ready.then((spare) => spare?.close());
      }
      queueRefill();
    });
  }
  let opening: Promise<SpareSession | undefined> | undefined;

  const remember = (key: string, shape: SessionShape) => {
    if (spareLimit === 0) return;
    wanted.delete(key);
    wanted.set(key, shape);
    while (wanted.size > spareLimit) wanted.delete(wanted.keys().next().value as string);
  };

  const getBrowser = (): Promise<Browser> => {
    if (!launching) {
      launching = launch();
      launching.catch(() => {
        launching = undefined;
      });
    }
    return launching;
  };

  async function openSession(spec: ContextSpec): Promise<BrowserSession> {
    const browser = await getBrowser();
    const shape = shapeOf(spec);
    const key = shapeKey(shape);
    remember(key, shape);
    let session: PooledSession;
    try {
      const spare = (await takeSpare(key, browser)) ?? (await prepare(browser, shape));
      session = spare.claim(spec);
    } catch (error) {
      if (error instanceof AppError || browser.isConnected()) throw error;
      throw new AppError('browser_unavailable', { detail: 'Chromium disconnected while the session opened', cause: error });
    }
    owner.set(session, browser);
    sessions.add(session);
    // The browser may have died while the context opened: the caller gets an ended session either way.
    if (!browser.isConnected()) session.crashed();
    return session;
  }

  return {
    get size() {
      return sessions.size;
    },
    get spares() {
      return [...spares.values()].filter((entry) => entry.spare && !entry.spare.closed).length;
    },
    async open(spec: ContextSpec): Promise<BrowserSession> {
      if (closing) throw new AppError('shutting_down');
      busy += 1;
      try {
        return await openSession(spec);
      } finally {
        onBusy(-1);
      }
    },
    async close(): Promise<void> {
      closing = true;
      clearTimeout(refillTimer);
      const pendingSpares = [...spares.values()];
      spares.clear();
      await Promise.all([
        ...pendingSpares.map((entry) => entry.ready.then((spare) => spare?.close()).catch(() => undefined)),
        ...[...sessions].map((session) => session.close().catch(() => undefined)),
      ]);
      const pending = launching;
      launching = undefined;
      const browser = await pending?.catch(() => undefined);
      await browser?.close().catch(() => undefined);
    },
  };
}
