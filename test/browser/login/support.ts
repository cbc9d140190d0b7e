import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { compileHostPattern, hostMatches } from '../../../src/core/index.js';
import type { LoginGuard, SecretFields } from '../../../src/browser/index.js';
import { createDemoPortal, type DemoPortal } from '../../../src/demo-portal/index.js';

/** Launch arguments this machine needs (contract of issue 5); the browser is driven over a pipe. */
export const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export const CANARY_USERNAME = 'alice';
export const CANARY_PASSWORD = 'canary-Pw-6b1f2e9d7c';
/** Base32 (A-Z, 2-7) so the portal and the runner accept it; distinctive enough to search for. */
export const CANARY_SEED = 'CANARYSEEDQQQQQQCANARYSEEDQQQQQQ';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: LAUNCH_ARGS, headless: true });
}

export async function startPortal(options: { totp?: boolean } = {}): Promise<{ portal: DemoPortal; url: string }> {
  const portal = createDemoPortal({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: options.totp === false ? undefined : CANARY_SEED });
  const url = await portal.start(0, '127.0.0.1');
  return { portal, url };
}

/** The login guard as the pool builds it, reduced to what tests need: host patterns and the http switch. */
export function hostGuard(hosts: readonly string[], allowInsecureHttp: boolean): LoginGuard {
  const patterns = hosts.map((host) => compileHostPattern(host));
  return {
    isAllowedOrigin(url) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return false;
      }
      if (parsed.protocol !== 'https:' && !(allowInsecureHttp && parsed.protocol === 'http:')) return false;
      return patterns.some((pattern) => hostMatches(pattern, parsed.hostname));
    },
  };
}

/** SecretFields as the vault hands them out: one buffer, views into it, wiped by dispose(). */
export function credential(values: Record<string, string>): SecretFields & { disposed: boolean; reads: number } {
  const buffers = new Map(Object.entries(values).map(([name, value]) => [name, Buffer.from(value, 'utf8')]));
  const state = {
    disposed: false,
    reads: 0,
    names: [...buffers.keys()],
    get(name: string) {
      state.reads++;
      return state.disposed ? undefined : buffers.get(name);
    },
    dispose() {
      state.disposed = true;
      for (const buffer of buffers.values()) buffer.fill(0);
    },
  };
  return state;
}

export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  return { context, page };
}
