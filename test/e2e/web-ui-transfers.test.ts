import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { chromium, type Browser, type FileChooser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, blockingViolations } from '../support/axe.js';
import { DEFAULT_LAUNCH_ARGS, findChromium, MAX_KEPT_DOWNLOADS } from '../../src/browser/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { call, sessionCaller, type Caller } from '../http/admin-callers.js';
import { addDemoTransferAsset, startSession } from '../http/live-view-fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { cookieOf, expectNothingLeaked, watchedContext, type Watch } from '../support/web-ui.js';

/**
 * The web UI's live view (built app, real server, real Chromium on both sides, the demo bank):
 * a statement the portal sends appears as a notice with a link that downloads it; when the portal
 * asks for a file, a dialog takes the focus, its "Choose file(s) for the portal" button (by
 * keyboard) opens this browser's own file chooser, and the file reaches the portal's form.
 */
const USERNAME = 'ui-xfer-alice';
/**
 * The file choosers `page` opens, in order. The listener is added (and Chromium told to intercept
 * choosers) before any key is pressed: a waitForEvent begun with the key press could start
 * intercepting only after the chooser opened.
 */
async function collectChoosers(page: Page): Promise<FileChooser[]> {
  const choosers: FileChooser[] = [];
  page.on('filechooser', (chooser) => choosers.push(chooser));
  await page.evaluate('1');
  return choosers;
}

/** The id of the element that has the focus in the operator's page. */
const focusedId = (page: Page) => page.evaluate<string | undefined>('document.activeElement ? document.activeElement.id : undefined');
const PASSWORD = 'ui-xfer-canary-Pa55-5d0e';

describe('web UI live view: downloads and uploads', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let browser: Browser;
  let owner: Caller;

  beforeAll(async () => {
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const portalUrl = await portal.start(0, '127.0.0.1');
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
    owner = await sessionCaller(ts, 'ui-xfer-owner', ['operator']);
    for (const endsOn of ['accounts', 'documents'] as const) {
      await addDemoTransferAsset(ts, { id: `ui-xfer-${endsOn}`, portalUrl, username: USERNAME, password: PASSWORD, policy: 'allow', endsOn, connect: [owner] });
    }
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  }, 60_000);
  // A test that fails midway leaves its session open, and the credential (one session at once)
  // would refuse the next test's start: every session a test started is ended after it.
  const started: string[] = [];
  const start = async (assetId: string) => {
    const id = await startSession(ts, owner, assetId);
    started.push(id);
    return id;
  };
  afterEach(async () => {
    for (const id of started.splice(0)) await call(ts, owner, 'DELETE', `/api/sessions/${id}`);
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await portal?.stop();
  });

  /** The owner's live view of a new session on `assetId`, live and holding the keyboard. */
  async function liveView(assetId: string): Promise<{ page: Page; watch: Watch; sessionId: string }> {
    const sessionId = await start(assetId);
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(owner), url: ts.url }]);
    const page = await context.newPage();
    await page.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });
    await expect.poll(() => focusedId(page), { timeout: 10_000 }).toBe('live-keys');
    return { page, watch, sessionId };
  }

  it('a statement the portal sends: a notice with a link that downloads the exact file', async () => {
    const { page, watch, sessionId } = await liveView('ui-xfer-accounts');
    // The bank's name, "Make a transfer", then the statement link.
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const link = page.locator('#live-downloads a');
    await link.waitFor({ timeout: 30_000 });
    expect(await link.textContent()).toBe('Download statement-latest.csv');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('statement-latest.csv');
    const bytes = await readFile(await download.path());
    expect(bytes.toString('utf8')).toContain(USERNAME);
    const id = await link.getAttribute('data-download');
    const kept = (await ts.services.database.db.selectFrom('audit_events').select('details').where('action', '=', 'browser_session.download_fetched').execute()).map((row) =>
      typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : (row.details as Record<string, unknown>),
    );
    expect(kept).toContainEqual(expect.objectContaining({ downloadId: id, sha256: createHash('sha256').update(bytes).digest('hex') }));
    await expectNothingLeaked(watch, [await page.content()], [PASSWORD]);
    await page.context().close();
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('past the session\'s limit of kept files: the oldest notice gives way to one saying it is no longer available, which can be dismissed', async () => {
    const { page, watch, sessionId } = await liveView('ui-xfer-accounts');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    const notices = page.locator('#live-downloads li');
    // One statement at a time (a second Enter while one starts could cancel its navigation).
    for (let i = 1; i <= MAX_KEPT_DOWNLOADS; i++) {
      await page.keyboard.press('Enter');
      await expect.poll(() => notices.count(), { timeout: 30_000 }).toBe(i);
    }
    const oldest = await notices.first().locator('a').getAttribute('data-download');
    await page.keyboard.press('Enter');
    const dropped = page.locator('#live-dropped li');
    await dropped.waitFor({ timeout: 30_000 });
    expect(await dropped.locator('span').textContent()).toBe('statement-latest.csv is no longer available: a session keeps at most 20 files (256 MB), and the oldest made room for newer ones.');
    await expect.poll(() => page.locator(`#live-downloads a[data-download="${oldest}"]`).count()).toBe(0);
    // The oldest's `download_dropped` comes before the newest's `download`: between the two, 19.
    await expect.poll(() => notices.count()).toBe(MAX_KEPT_DOWNLOADS);
    await dropped.locator('button').click();
    await dropped.waitFor({ state: 'detached' });
    await expectNothingLeaked(watch, [await page.content()], [PASSWORD]);
    await page.context().close();
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it("the portal asks for a file: the dialog takes the focus; cancelled, nothing is sent; by keyboard, this browser's file chooser opens and the file reaches the portal", async () => {
    const { page, watch, sessionId } = await liveView('ui-xfer-documents');
    const choosers = await collectChoosers(page);
    // The bank's name, then the file input; Enter opens its chooser.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#live-chooser').waitFor({ timeout: 30_000 });
    expect(await page.locator('#live-chooser-title').textContent()).toBe('The portal asks for a file.');
    await expect.poll(() => focusedId(page)).toBe('live-chooser-choose');
    // Cancelled with the dialog's button: nothing is sent, the keyboard is the portal's again (still on its file input).
    await page.locator('#live-chooser-cancel').click();
    await page.locator('#live-chooser').waitFor({ state: 'detached' });
    await expect.poll(() => focusedId(page)).toBe('live-keys');
    expect(portal.documents).toEqual([]);

    // Asked again, answered by keyboard: Enter on "Choose file(s) for the portal" opens this browser's own chooser.
    await page.keyboard.press('Enter');
    await page.locator('#live-chooser').waitFor({ timeout: 30_000 });
    await expect.poll(() => focusedId(page)).toBe('live-chooser-choose');
    const file = Buffer.from('%PDF-1.4 a document for the portal\n');
    await page.keyboard.press('Enter');
    await expect.poll(() => choosers.length, { timeout: 15_000 }).toBe(1);
    const chooser = choosers[0]!;
    expect(chooser.isMultiple()).toBe(false);
    await chooser.setFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: file });
    await page.locator('#live-chooser').waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => page.locator('#live-notice').textContent(), { timeout: 15_000 }).toBe('Sent to the portal: scan.pdf.');
    // The keyboard is the portal's again: Tab to "Upload", Enter.
    await expect.poll(() => focusedId(page)).toBe('live-keys');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => portal.documents.at(-1), { timeout: 15_000 }).toEqual({ name: 'scan.pdf', size: file.length });
    expect(portal.documents).toHaveLength(1);
    await expectNothingLeaked(watch, [await page.content()], [PASSWORD]);
    await page.context().close();
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('the minimal viewer (/sessions/{id}/view) does the same with a link and two buttons', async () => {
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(owner), url: ts.url }]);
    const page = await context.newPage();
    const choosers = await collectChoosers(page);
    let sessionId = '';
    const open = async (assetId: string) => {
      if (sessionId) expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
      sessionId = await start(assetId);
      await page.goto(`${ts.url}/sessions/${sessionId}/view`);
      await expect.poll(() => page.locator('#status').textContent(), { timeout: 30_000 }).toBe('Live');
      await page.focus('#keys');
    };

    await open('ui-xfer-accounts');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const link = page.locator('#downloads a');
    await link.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('statement-latest.csv');
    expect((await readFile(await download.path())).toString('utf8')).toContain(USERNAME);

    await open('ui-xfer-documents');
    const before = portal.documents.length;
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#chooser').waitFor({ timeout: 30_000 });
    await expect.poll(() => focusedId(page)).toBe('chooser-choose');
    const file = Buffer.from('a note for the portal\n');
    await page.keyboard.press('Enter');
    await expect.poll(() => choosers.length, { timeout: 15_000 }).toBe(1);
    await choosers[0]!.setFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: file });
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toBe('Sent to the portal: note.txt.');
    await expect.poll(() => focusedId(page)).toBe('keys');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => portal.documents.slice(before), { timeout: 15_000 }).toEqual([{ name: 'note.txt', size: file.length }]);
    await expectNothingLeaked(watch, [await page.content()], [PASSWORD]);
    await context.close();
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('axe finds nothing serious or critical in the panel with a download notice and the file chooser dialog open', async () => {
    const sessionId = await start('ui-xfer-accounts');
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    await context.addCookies([{ name: 'webasset', value: cookieOf(owner), url: ts.url }]);
    const page = await context.newPage();
    await page.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await expect.poll(() => focusedId(page), { timeout: 30_000 }).toBe('live-keys');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#live-downloads a').waitFor({ timeout: 30_000 });
    // The next link of the accounts page goes to the upload form; its title in the bar says it is there.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.live-tabs button').first().textContent(), { timeout: 30_000 }).toContain('Documents');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#live-chooser').waitFor({ timeout: 30_000 });
    expect(blockingViolations(await axeViolations(page, '#live-transfers'))).toEqual([]);
    await context.close();
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });
});
