import { mkdtempSync, rmSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { AppError } from '../core/index.js';
import { openBrowserSession, type PooledSession } from './browser-session.js';
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
}

/**
 * One Chromium per node, started on first use and shared by every session, each in its own
 * BrowserContext. Concurrent opens share one launch. When the browser dies, each of its
 * sessions ends with browser_crashed and the next open starts a new browser.
 */
export function createBrowserPool(deps: BrowserPoolDeps): BrowserPool {
  const { logger } = deps;
  const args = [...(deps.launchArgs ?? DEFAULT_LAUNCH_ARGS)];
  if (args.some((arg) => /^--remote-debugging-(port|address)/.test(arg))) throw new TypeError('a remote debugging port is never opened');
  const sessions = new Set<PooledSession>();
  let launching: Promise<Browser> | undefined;
  let closing = false;

  const launch = async (): Promise<Browser> => {
    let browser: Browser;
    // Our own downloads folder (0700, one per browser), so a running download's partial file can be measured (policy.ts).
    const downloadsPath = mkdtempSync(join(tmpdir(), 'webasset-downloads-'));
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

  const getBrowser = (): Promise<Browser> => {
    if (!launching) {
      launching = launch();
      launching.catch(() => {
        launching = undefined;
      });
    }
    return launching;
  };

  return {
    get size() {
      return sessions.size;
    },
    async open(spec: ContextSpec): Promise<BrowserSession> {
      if (closing) throw new AppError('shutting_down');
      const browser = await getBrowser();
      let session: PooledSession;
      try {
        session = await openBrowserSession({
          browser,
          spec,
          logger,
          lookup: deps.lookup,
          downloadsDir: downloads.get(browser),
          onEnded: (ended) => {
            sessions.delete(ended);
          },
        });
      } catch (error) {
        if (error instanceof AppError || browser.isConnected()) throw error;
        throw new AppError('browser_unavailable', { detail: 'Chromium disconnected while the session opened', cause: error });
      }
      owner.set(session, browser);
      sessions.add(session);
      // The browser may have died while the context opened: the caller gets an ended session either way.
      if (!browser.isConnected()) session.crashed();
      return session;
    },
    async close(): Promise<void> {
      closing = true;
      await Promise.all([...sessions].map((session) => session.close().catch(() => undefined)));
      const pending = launching;
      launching = undefined;
      const browser = await pending?.catch(() => undefined);
      await browser?.close().catch(() => undefined);
    },
  };
}
