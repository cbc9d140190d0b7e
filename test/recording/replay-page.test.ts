import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { sessionCaller, type Caller } from '../http/admin-callers.js';
import { record, recorderNode, screenshotJpegs, type Step } from '../http/recordings-fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Statement';

/** Frame i at 400·i ms, i = 0..7; the last at 2800 ms, the recording ends at 3000 ms. */
const FRAME_TIMES = [0, 400, 800, 1200, 1600, 2000, 2400, 2800];

const STEPS: Step[] = ([
  { at: 0, event: { type: 'state', state: 'active' } },
  { at: 50, event: { type: 'navigated', tabId: 't1', url: 'https://portal.test/home', title: 'Home' } },
  ...FRAME_TIMES.map((at, frame) => ({ at, frame })),
  { at: 900, event: { type: 'click', x: 10, y: 20, button: 'left', target: 'a "Statements"' } },
  { at: 1700, event: { type: 'navigated', tabId: 't1', url: 'https://portal.test/statements?m=11', title: HOSTILE_TITLE } },
  { at: 2300, event: { type: 'keys', target: 'input[name=amount]', field: 'text', count: 3 } },
  { at: 3000, event: { type: 'state', state: 'ended', reason: 'user' } },
] satisfies Step[]).sort((a, b) => a.at - b.at);

/** The replay page in a real Chromium, served by the real server, under its strict CSP. */
describe('replay page', () => {
  let ts: TestServer;
  let auditor: Caller;
  let browser: Browser;
  let recordingId: string;
  let jpegs: Buffer[];

  beforeAll(async () => {
    jpegs = await screenshotJpegs(FRAME_TIMES.length);
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'replay-page-auditor', ['auditor']);
    const node = recorderNode(ts);
    recordingId = await record(node, { sessionId: randomUUID(), assetId: 'portal', userId: randomUUID() }, jpegs, STEPS, 3000);
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
  });

  /** A signed-in page with every CSP violation, console error and page error collected. */
  async function openReplay(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const cookie = /^webasset=(.*)$/.exec(auditor.headers('GET').cookie!)![1]!;
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    await page.exposeFunction('reportViolation', (text: string) => problems.push(`csp: ${text}`));
    // Test code given as text: this project's TypeScript has no DOM types (it runs in the page, not in Node).
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI));`);
    await page.goto(`${ts.url}/recordings/${recordingId}/replay`);
    await page.locator('body[data-state="paused"]').waitFor();
    await page.locator('#screen[data-frame-t="0"]').waitFor({ state: 'attached' });
    return { context, page, problems };
  }

  /** Records every frame time the canvas shows from now on (the page marks the painted frame's t on the canvas). */
  async function watchFrames(page: Page): Promise<() => Promise<number[]>> {
    await page.evaluate(`(() => {
      window.painted = [];
      const canvas = document.getElementById('screen');
      new MutationObserver(() => window.painted.push(Number(canvas.dataset.frameT))).observe(canvas, { attributes: true, attributeFilter: ['data-frame-t'] });
    })()`);
    return () => page.evaluate<number[]>('window.painted');
  }

  /** The colour of the painted frame, sampled inside the picture near its top-left corner (the label is in the middle). */
  async function paintedColour(page: Page): Promise<[number, number, number]> {
    return page.evaluate<[number, number, number]>(`(() => {
      const canvas = document.getElementById('screen');
      const fit = Math.min(canvas.width / 320, canvas.height / 180);
      const x = Math.round((canvas.width - 320 * fit) / 2 + 10 * fit);
      const y = Math.round((canvas.height - 180 * fit) / 2 + 10 * fit);
      return [...canvas.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)];
    })()`);
  }

  it('loads under the strict CSP without a violation, with the event list, timeline marks and the first frame', async () => {
    const { context, page, problems } = await openReplay();
    const events = STEPS.filter((s) => 'event' in s);
    await expect.poll(() => page.locator('#event-list li').count()).toBe(events.length);
    expect(await page.locator('#marks .mark').count()).toBe(events.length);
    await expect.poll(() => page.locator('#screen').getAttribute('data-frame-t')).toBe('0');
    expect(await page.locator('#clock').textContent()).toBe('0:00 / 0:03');
    expect(await page.locator('#page-title').textContent()).toBe('');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('plays the frames in order, at their times, to the end; the page shown follows the navigations', async () => {
    const { context, page, problems } = await openReplay();
    const painted = await watchFrames(page);
    await page.locator('#play').click();
    await page.locator('body[data-state="playing"]').waitFor();
    await page.locator('body[data-state="ended"]').waitFor({ timeout: 20_000 });
    // Frames after the first (painted at load), each once, in order, through to the last. The player skips a frame
    // that is already overdue (by design: at 8× not every frame can be shown), so on a loaded machine a stall can
    // drop one; which ones is timing, not behaviour, and is not asserted.
    expectPlayedInOrder(await painted(), FRAME_TIMES.slice(1));
    expect(colourDistance(await paintedColour(page), hsl(7))).toBeLessThan(60);
    expect(await page.locator('#clock').textContent()).toBe('0:03 / 0:03');
    // The hostile title is text: shown as it is, never parsed.
    expect(await page.locator('#page-title').textContent()).toBe(HOSTILE_TITLE);
    expect(await page.locator('#page-url').textContent()).toBe('https://portal.test/statements?m=11');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('.page img, .event-list img').count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('jumps to an event when its mark on the timeline is clicked: the frame at or before it, its page, its list entry', async () => {
    const { context, page, problems } = await openReplay();
    const click = page.locator('#marks .mark[data-t="900"]');
    expect(await click.getAttribute('title')).toBe('0:00 Click on a "Statements"');
    await click.click();
    await expect.poll(() => page.locator('#screen').getAttribute('data-frame-t')).toBe('800');
    expect(colourDistance(await paintedColour(page), hsl(2))).toBeLessThan(60);
    expect(await page.locator('#page-title').textContent()).toBe('Home');
    expect(await page.locator('#event-list li.current').textContent()).toContain('Click on a "Statements"');
    expect(await page.locator('body').getAttribute('data-state')).toBe('paused');

    // A later mark: past the navigation, so the page shown changes too.
    await page.locator('#marks .mark[data-t="2300"]').click();
    await expect.poll(() => page.locator('#screen').getAttribute('data-frame-t')).toBe('2000');
    expect(await page.locator('#page-title').textContent()).toBe(HOSTILE_TITLE);
    expect(await page.locator('#event-list li.current').textContent()).toContain('Typed 3 characters into input[name=amount] (masked)');

    // The event list jumps as well, and playing on from there continues in order.
    const painted = await watchFrames(page);
    await page.locator('#event-list button[data-t="1700"]').click();
    await expect.poll(() => page.locator('#screen').getAttribute('data-frame-t')).toBe('1600');
    await page.locator('#speed').selectOption('2');
    await page.locator('#play').click();
    expect(await page.locator('#status').textContent()).toBe('Playing 2×');
    await page.locator('body[data-state="ended"]').waitFor({ timeout: 20_000 });
    expectPlayedInOrder(await painted(), [1600, 2000, 2400, 2800]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows an unknown recording as not found, without an error on the page', async () => {
    const context = await browser.newContext();
    const cookie = /^webasset=(.*)$/.exec(auditor.headers('GET').cookie!)![1]!;
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await context.newPage();
    const response = await page.goto(`${ts.url}/recordings/${randomUUID()}/replay`);
    expect(response?.status()).toBe(404);
    await context.close();
  });
});

/** Painted frame times: strictly increasing, each one of `due`, ending on `due`'s last (an overdue one may be skipped). */
function expectPlayedInOrder(painted: number[], due: number[]): void {
  expect(painted.length).toBeGreaterThan(0);
  expect(painted.every((t) => due.includes(t))).toBe(true);
  expect(painted.every((t, i) => i === 0 || t > painted[i - 1]!)).toBe(true);
  expect(painted.at(-1)).toBe(due.at(-1));
}

/** Frame i's background (fixtures' frameColour: hsl(37·i 90% 45%)) as RGB. */
function hsl(i: number): [number, number, number] {
  const h = ((i * 37) % 360) / 360;
  const s = 0.9;
  const l = 0.45;
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t0: number) => {
    const t = (t0 + 1) % 1;
    if (t < 1 / 6) return p + (q - p) * 6 * t;
    if (t < 1 / 2) return q;
    if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
    return p;
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)].map((v) => Math.round(v * 255)) as [number, number, number];
}

function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
}
