import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';

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

describe('live view: working a session through the viewer page', () => {
  const PASSWORD = 'viewer-canary-Pa55word-2b9e';
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let browser: Browser;

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer();
    owner = await sessionCaller(ts, 'viewer-owner', ['operator']);
    await addPortalAsset(ts, site, { assetId: 'viewer-portal', password: PASSWORD, connect: [owner] });
    await addPortalAsset(ts, site, { assetId: 'viewer-clipboard', password: PASSWORD, connect: [owner], clipboard: 'allow' });
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await site?.close();
  });

  it('paints the remote page, and clicks, typed text, a dead-key composition and Enter reach the portal', async () => {
    const sessionId = await startSession(ts, owner, 'viewer-portal');
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const cookie = /^webasset=(.*)$/.exec(owner.headers('GET').cookie!)![1]!;
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    // Input as the page's socket sent it (for a failure message); frames painted at the page's size (trackPaints).
    const wire: string[] = [];
    const painted = trackPaints(page);
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        const payload = String(f.payload);
        // Input as sent (type and action or key only: what was typed stays out of a failure message).
        if (/^\{"type":"(mouse|key|text)"/.test(payload)) {
          const sent = JSON.parse(payload) as { type: string; action?: string; key?: string };
          wire.push(`${sent.type}:${sent.type === 'key' ? `${sent.action}:${sent.key}` : (sent.action ?? '')}`);
        }
      });
    });
    await page.goto(`${ts.url}/sessions/${sessionId}/view`);
    // The overlay goes away with the first painted frame.
    await page.locator('#overlay.hidden').waitFor({ state: 'attached' });
    await expect.poll(() => page.locator('#status').textContent()).toBe('Live');

    // The viewer asks for a page as large as its stage: once a frame of that size is painted, it fills the
    // canvas and canvas positions are page positions. The portal's text field sits at 20..420 × 20..50.
    await expect.poll(painted.atStageSize, { timeout: 30_000 }).toBe(true);
    const canvas = page.locator('#screen');
    const cdp = await context.newCDPSession(page);
    const note = site.nextNote();
    await canvas.click({ position: { x: 100, y: 35 } });
    await page.keyboard.type('Crème brûlée ');
    // A dead key as an input method composes it: circumflex, then the composed letter.
    await cdp.send('Input.imeSetComposition', { text: '^', selectionStart: 1, selectionEnd: 1 });
    await cdp.send('Input.insertText', { text: 'ê' });
    await page.keyboard.press('Enter');
    // Bounded, so that a lost click or keystroke fails with what the socket carried. Two CI runs under load once saw
    // no note here; the cause was a frame shown at the wrong size (see trackPaints), and this test no longer retries.
    const noted = await Promise.race([note, new Promise<string>((resolve) => setTimeout(() => resolve(`no note; socket: ${wire.join(' ')}`), 30_000).unref())]);
    expect(noted).toBe('Crème brûlée ê');
    expect(problems).toEqual([]);
    await context.close();
  });

  it("pastes this computer's clipboard into the portal (Ctrl+V) and puts what the portal copies on it (Ctrl+C)", async () => {
    const sessionId = await startSession(ts, owner, 'viewer-clipboard');
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ts.url });
    const cookie = /^webasset=(.*)$/.exec(owner.headers('GET').cookie!)![1]!;
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const wire: string[] = [];
    const painted = trackPaints(page);
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        if (typeof f.payload === 'string' && f.payload.includes('"type":"clipboard"')) wire.push('clipboard');
        if (typeof f.payload === 'string' && f.payload.includes('"type":"tabs"') && f.payload.includes('/note')) wire.push('note page');
      });
      ws.on('framesent', (f) => {
        if (String(f.payload).includes('"type":"paste"')) wire.push('paste');
      });
    });
    await page.goto(`${ts.url}/sessions/${sessionId}/view`);
    await expect.poll(painted.atStageSize, { timeout: 30_000 }).toBe(true);
    // The portal's page with the field is loaded (the tab list says so) before the field is clicked.
    await expect.poll(() => wire.includes('note page'), { timeout: 30_000 }).toBe(true);
    await page.locator('#screen').click({ position: { x: 100, y: 35 } });

    // This computer's clipboard holds text; Ctrl+V in the viewer types it into the portal's field.
    await page.evaluate("navigator.clipboard.writeText('Pasted from afar')");
    await page.keyboard.press('Control+V');
    await expect.poll(() => wire.includes('paste'), { timeout: 30_000 }).toBe(true);
    // Then the field's text is selected and copied in the portal: it lands on this computer's clipboard.
    await page.evaluate("navigator.clipboard.writeText('something else')");
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Control+C');
    await page.locator('#status', { hasText: 'Copied from the portal' }).waitFor({ timeout: 30_000 }).catch(async (error: unknown) => {
      throw new Error(`${String(error)}; status: ${await page.locator('#status').textContent()}; socket: ${wire.join(' ')}`);
    });
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe('Pasted from afar');
    const note = site.nextNote();
    await page.keyboard.press('Enter');
    const noted = await Promise.race([note, new Promise<string>((resolve) => setTimeout(() => resolve(`no note; socket: ${wire.join(' ')}`), 30_000).unref())]);
    expect(noted).toBe('Pasted from afar');
    expect(problems).toEqual([]);
    await context.close();
  });
});

/**
 * Whether the viewer shows a frame of the page at the size of its stage, painted: only then does the canvas show the
 * page unscaled and unboxed, so that canvas positions are page positions. The viewer asks for a page as large as its
 * stage (and again when the stage changes); a frame of an earlier size is shown letterboxed, where (100, 35) is the
 * dark band above the page and the click lands on the page's top edge, taking the focus out of the field. The server
 * announces each size just before the first frame of that size, and the viewer acks frames in the order they came.
 * (CI once saw that click miss for another reason, now fixed in the product: Chromium reported a frame as 1000×660
 * while its picture was still the old page; see MAX_STALE_FRAMES_IN_A_ROW in src/browser/screencast.ts.)
 */
function trackPaints(page: Page): { atStageSize: () => Promise<boolean> } {
  let frames = 0;
  let acks = 0;
  let announced: { width: number; height: number; framesBefore: number } | undefined;
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string') frames += 1;
      else if (f.payload.startsWith('{"type":"state"')) {
        const { viewport } = JSON.parse(f.payload) as { viewport: { width: number; height: number } | null };
        if (viewport) announced = { ...viewport, framesBefore: frames };
      }
    });
    ws.on('framesent', (f) => {
      if (String(f.payload) === '{"type":"ack"}') acks += 1;
    });
  });
  return {
    async atStageSize() {
      if (!announced || acks <= announced.framesBefore) return false;
      const stage = await page.evaluate("(({ clientWidth, clientHeight }) => ({ width: clientWidth, height: clientHeight }))(document.getElementById('stage'))");
      const { width, height } = stage as { width: number; height: number };
      return announced !== undefined && announced.width === width && announced.height === height && acks > announced.framesBefore;
    },
  };
}
