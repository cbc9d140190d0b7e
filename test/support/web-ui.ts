import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { base32Decode, totp } from '../../src/core/index.js';
import { DEMO_CREDENTIALS } from '../../src/demo-portal/index.js';

// What the web UI's end-to-end tests share: a browser context that records what it received, the
// demo bank's canaries, the artifacts folder, a session cookie for a context, TOTP codes, a free port.

/** The demo bank's secrets: they reach the remote browser only, never the operator's. */
export const CANARIES = [DEMO_CREDENTIALS.password, DEMO_CREDENTIALS.totpSeed];
/** Screenshots, as test artifacts (.tmp/ is not committed). */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', '.tmp', 'artifacts', 'web-ui');

/** Everything the operator's browser received or showed, to search for canaries, and every CSP violation it reported. */
export interface Watch {
  bodies: string[];
  wsTexts: string[];
  binaryFrames: number;
  violations: string[];
}

/** A browser context that records every response body, WebSocket text message and CSP violation. */
export async function watchedContext(browser: Browser): Promise<{ context: BrowserContext; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const watch: Watch = { bodies: [], wsTexts: [], binaryFrames: 0, violations: [] };
  // Init scripts are injected by the browser's automation, not by the page: the CSP does not apply to them.
  await context.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  context.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|CSP violation/i.test(text)) watch.violations.push(text);
  });
  context.on('weberror', (error) => watch.violations.push(`page error: ${error.error().message}`));
  context.on('response', (response) => {
    void response.text().then(
      (text) => watch.bodies.push(`${response.url()}\n${text}`),
      () => undefined, // redirects and aborted loads have no body
    );
  });
  context.on('page', (page) => watchSockets(page, watch));
  return { context, watch };
}

function watchSockets(page: Page, watch: Watch): void {
  page.on('websocket', (ws) => {
    ws.on('framereceived', (frame) => {
      if (typeof frame.payload === 'string') watch.wsTexts.push(frame.payload);
      else watch.binaryFrames++;
    });
    ws.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') watch.wsTexts.push(frame.payload);
    });
  });
}

/** The value of a test caller's session cookie, to put in a browser context. */
export function cookieOf(caller: { headers(method: string): Record<string, string> }): string {
  return /^webasset=(.*)$/.exec(caller.headers('GET').cookie!)![1]!;
}

/** The current TOTP code, or the one of the next time step (a code is accepted once, and never an older one). */
export function totpCode(secret: string, stepsAhead = 0): string {
  return totp(base32Decode(secret), Date.now() + stepsAhead * 30_000);
}

/**
 * Nothing the browser received (response bodies, socket texts) or showed (`doms`) holds one of the
 * `secrets`, and it reported no CSP violation. Waits a moment first: the last response bodies are
 * read asynchronously.
 */
export async function expectNothingLeaked(watch: Watch, doms: readonly string[], secrets: readonly string[] = CANARIES): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const secret of secrets) {
    expect(watch.bodies.filter((body) => body.includes(secret))).toEqual([]);
    expect(watch.wsTexts.filter((text) => text.includes(secret))).toEqual([]);
    for (const dom of doms) expect(dom).not.toContain(secret);
  }
  expect(watch.violations).toEqual([]);
}

/**
 * In the demo bank, through a live view that has the keyboard: Tab past the bank's name to "Make a
 * transfer", Enter, and on the form Tab to "To". `remoteUrl` reads the session's page address.
 */
export async function focusTransferRecipient(page: Page, remoteUrl: () => Promise<string>): Promise<void> {
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect.poll(remoteUrl, { timeout: 15_000 }).toMatch(/\/transfer$/);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
}
