import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';

/** The viewer page in a real Chromium (the one a user would have), against the real server. */
describe('live view: the minimal viewer page in a browser', () => {
  let ts: TestServer;
  let operator: Caller;
  let browser: Browser;

  beforeAll(async () => {
    ts = await startTestServer();
    operator = await sessionCaller(ts, 'viewer-operator', ['operator']);
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
  });

  it('loads under the strict CSP without a violation, opens the socket with the cookie and shows the server’s answer', async () => {
    const context = await browser.newContext();
    const cookie = /^webasset=(.*)$/.exec(operator.headers('GET').cookie!)![1]!;
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const opened = page.waitForEvent('websocket');
    await page.goto(`${ts.url}/sessions/no-such-session/view`);
    expect((await opened).url()).toBe(`${ts.url.replace(/^http/, 'ws')}/api/sessions/no-such-session/live`);
    // An unknown id (or someone else's) is "Not found." and nothing more.
    await page.locator('#overlay', { hasText: 'Not found.' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
