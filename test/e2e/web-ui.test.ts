import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { call, sessionCaller, type Caller } from '../http/admin-callers.js';
import { addPortalAsset, startPortalSite, type PortalSite } from '../http/live-view-fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ARTIFACTS, cookieOf, expectNothingLeaked, focusTransferRecipient, totpCode, watchedContext } from '../support/web-ui.js';

const actor = { kind: 'user' as const, id: 'test-admin', name: 'Test admin' };
const ROOT_PASSWORD = 'a calm newcomer passphrase 7';

describe('web UI: a newcomer enrols, signs in, opens the demo portal and works in it without seeing its password', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let browser: Browser;

  beforeAll(async () => {
    ts = await startTestServer();
    portal = createDemoPortal(DEMO_CREDENTIALS);
    const url = await portal.start(0, '127.0.0.1');
    // What the quickstart does: the first administrator with an enrolment link, then the demo bank seeded for them.
    const root = await ts.services.users.create({ username: 'root', roles: ['admin'], source: 'local' }, TEST_ADMIN);
    await seedDemoPortal(ts.services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, TEST_ADMIN);
    expect(await ts.services.grants.list({ subjectKind: 'user', subjectId: root.id })).toHaveLength(1);
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await portal?.stop();
  });

  it('enrolment link → password and TOTP → sign in with TOTP → launcher → demo bank live, logged in; busy for another operator; sign out; recovery code; no canary, no CSP violation', async () => {
    const root = (await ts.services.users.findByUsername('root'))!;
    const link = new URL((await ts.services.users.createEnrolmentLink(root.id, 'enrol', TEST_ADMIN)).url);
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();

    // 1. The enrolment link: the app's page, served with the strict policy.
    const landing = await page.goto(`${ts.url}${link.pathname}${link.search}`);
    expect(landing!.status()).toBe(200);
    const csp = landing!.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(landing!.headers()['x-frame-options']).toBe('DENY');
    const html = await landing!.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i); // no inline script
    expect(html).not.toMatch(/<style|\sstyle=/i); // no inline style
    await expect.poll(() => page.locator('#enrol-username').textContent()).toBe('root');
    // The token leaves the address bar once read.
    expect(new URL(page.url()).search).toBe('');

    await page.getByLabel('New password').fill(ROOT_PASSWORD);
    await page.getByLabel('Repeat it').fill(ROOT_PASSWORD);
    await page.getByRole('button', { name: 'Save password' }).click();

    // 2. TOTP: the QR code and the secret as text; the code from the secret read off the page.
    await page.locator('img.qr').waitFor();
    const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await page.getByLabel('Code shown by the app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('#recovery-codes li').count()).toBe(10);
    const recoveryCodes = await page.locator('#recovery-codes li').allTextContents();
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
    await page.locator('#enrolment-done').waitFor();
    await page.getByRole('button', { name: 'Go to sign in' }).click();

    // 3. Sign in: password, then the next TOTP code (the enrolment used up the current one).
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill(ROOT_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Typing goes straight to the code field: it has the focus when the step appears.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('mfa-code');
    await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, 1));
    await page.getByRole('button', { name: 'Continue' }).click();

    // 4. The launcher: the demo bank as a card; the search finds it and filters it out.
    const card = page.locator('li.card[data-asset="demo-bank"]');
    await card.waitFor();
    expect(await card.locator('h2').textContent()).toBe('Demo Bank');
    expect(await card.locator('.state').textContent()).toBe('Available');
    // The quickstart's launcher, kept as a test artifact (docs/images/launcher.png is taken from it).
    await page.screenshot({ path: join(ARTIFACTS, 'launcher-quickstart.en.png'), clip: { x: 0, y: 0, width: 1100, height: 640 } });
    await page.getByPlaceholder('Search portals').fill('nothing like it');
    await page.getByText('No portal matches').waitFor();
    await page.getByPlaceholder('Search portals').fill('demo');
    await card.waitFor();

    // 5. One click: the session opens (logged in by the product) and the app's live view shows it.
    await card.getByRole('button', { name: 'Open Demo Bank' }).click();
    await page.waitForURL(/\/sessions\/[^/]+$/, { timeout: 30_000 });
    const sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]!);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });
    await expect.poll(() => watch.binaryFrames, { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('#live-name').textContent()).toBe('Demo Bank');
    const viewerDom = await page.content();
    const session = await context.request.get(`${ts.url}/api/sessions/${encodeURIComponent(sessionId)}`);
    expect(session.status()).toBe(200);
    // Active means the success check passed: the accounts page, with its balance, is what the frames show.
    expect(await session.json()).toMatchObject({ id: sessionId, assetId: 'demo-bank', state: 'active', userId: root.id, assetName: 'Demo Bank' });

    // 6. Back to the launcher: the card says the session is the operator's own; then sign out.
    await page.goto(`${ts.url}/`);
    await expect.poll(() => card.locator('.state').textContent()).toBe('In use by you');
    expect(await card.getByRole('link', { name: 'Return to session' }).getAttribute('href')).toBe(`/sessions/${encodeURIComponent(sessionId)}`);
    const dom = await page.content();

    // My sessions, from the launcher's banner: the live session, its portal by name, a link back to its view.
    await page.getByRole('navigation').getByRole('link', { name: 'My sessions' }).click();
    await page.waitForURL(`${ts.url}/my-sessions`);
    const row = page.locator(`#sessions tr[data-session="${sessionId}"]`);
    await row.waitFor();
    expect(await row.locator('th').textContent()).toBe('Demo Bank');
    expect(await row.locator('.pill').textContent()).toBe('Live');
    expect(await row.locator('.reason').textContent()).toBe('Still running');
    expect(await row.getByRole('link', { name: 'Open live view (Demo Bank)' }).getAttribute('href')).toBe(`/sessions/${encodeURIComponent(sessionId)}`);
    // After a change of page inside the app the keyboard starts from the new page's heading.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.tagName')).toBe('H1');
    await page.goBack();
    await card.waitFor();

    // Another operator of the same portal meanwhile: its one credential is busy, and the card says so.
    const bea = await sessionCaller(ts, 'bea', ['operator']);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: bea.userId!, assetId: 'demo-bank', actions: ['connect'] }, TEST_ADMIN);
    const beaContext = await browser.newContext();
    await beaContext.addCookies([{ name: 'webasset', value: /^webasset=(.*)$/.exec(bea.headers('GET').cookie!)![1]!, url: ts.url }]);
    const beaPage = await beaContext.newPage();
    await beaPage.goto(`${ts.url}/`);
    const beaCard = beaPage.locator('li.card[data-asset="demo-bank"]');
    await beaCard.getByRole('button', { name: 'Open Demo Bank' }).click();
    await expect.poll(() => beaCard.locator('.state').textContent()).toBe('Credential busy');
    expect(await beaCard.locator('.error').textContent()).toMatch(/^Credential busy: .*in use by 1/);
    await beaContext.close();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await page.waitForURL(`${ts.url}/sign-in`);
    expect((await context.request.get(`${ts.url}/api/auth/session`)).status()).toBe(401);

    // Signing in again with a recovery code instead of the app, from a link to the session: signed out, the
    // live view's address sends the browser to sign-in with the way back (returnTo, a path here).
    await page.goto(`${ts.url}/sessions/${sessionId}`);
    await page.waitForURL(`${ts.url}/sign-in?returnTo=${encodeURIComponent(`/sessions/${sessionId}`)}`);
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill(ROOT_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 15_000 }).toBe('Live');
    // The minimal viewer stays as a fallback at /sessions/{id}/view (docs/live-view.md).
    await page.goto(`${ts.url}/sessions/${sessionId}/view`);
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toBe('Live');

    // Nothing the operator's browser got or showed holds the demo bank's secrets; the browser reported no CSP violation.
    await expectNothingLeaked(watch, [dom, viewerDom]);
    expect(watch.bodies.length).toBeGreaterThan(5);
    expect(watch.wsTexts.length).toBeGreaterThan(0);
    // The watch does see a violation: an inline style attribute is refused and reported.
    await page.evaluate(`document.body.insertAdjacentHTML('beforeend', '<p style="color: red">probe</p>')`);
    await expect.poll(() => watch.violations.length).toBe(1);
    await context.close();
  });

  it('an administrator sees the live session in the console, gives herself watch, watches it read-only and ends it with a reason; an auditor finds its recording and opens its replay', async () => {
    // The operator's session of the test above is still live (signing out does not end it).
    const root = (await ts.services.users.findByUsername('root'))!;
    const ada = await sessionCaller(ts, 'ada', ['admin']);
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(ada), url: ts.url }]);
    const page = await context.newPage();

    // 1. The console opens on its live sessions: root's session on the demo bank is there.
    await page.goto(`${ts.url}/admin`);
    const row = page.locator('#live-sessions tbody tr').filter({ hasText: 'Demo Bank' });
    await row.waitFor({ timeout: 30_000 });
    const sessionId = (await row.getAttribute('data-session'))!;
    expect(await row.locator('th').textContent()).toContain('root');
    expect(await row.locator('.pill').textContent()).toBe('Live');
    expect((await (await context.request.get(`${ts.url}/api/sessions/${sessionId}`)).json()) as unknown).toMatchObject({ userId: root.id, state: 'active' });

    // 2. Watching needs the watch permission on the portal: without it the live view says so; she adds it in the console's permissions.
    const refused = await context.newPage();
    await refused.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => refused.locator('#live-failure').textContent(), { timeout: 15_000 }).toBe('You may see this session but not watch it: watching needs the watch permission on its portal.');
    await refused.close();
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Permissions' }).click();
    await page.waitForURL(`${ts.url}/admin?section=permissions`);
    await page.locator('#permission-form').locator('xpath=..').locator('summary').click();
    await page.locator('#permission-subject').selectOption(`user:${ada.userId}`);
    await page.locator('#permission-asset').selectOption('demo-bank');
    await page.getByLabel('Open sessions').uncheck();
    await page.getByLabel('Watch sessions').check();
    await page.locator('#permission-form button[type="submit"]').click();
    await page.locator('#permissions tbody tr').filter({ hasText: 'ada' }).filter({ hasText: 'Watch sessions' }).waitFor();

    // 3. Back to the live sessions; "Watch" opens the live view read-only on the running session.
    await page.getByRole('link', { name: 'Live sessions' }).click();
    await row.waitFor();
    const watchLink = row.getByRole('link', { name: /^Watch/ });
    expect(await watchLink.getAttribute('href')).toBe(`/sessions/${sessionId}`);
    const viewer = await context.newPage();
    await viewer.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => viewer.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Watching (read-only)');
    expect(await viewer.locator('#live-read-only').textContent()).toContain('read-only');
    expect(await viewer.locator('#live-end').count()).toBe(0);
    await expect.poll(() => watch.binaryFrames, { timeout: 15_000 }).toBeGreaterThan(0);
    await viewer.screenshot({ path: join(ARTIFACTS, 'admin-watching.en.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'admin-live-sessions.en.png'), fullPage: true });

    // 4. She ends it: a confirmation with a required reason, which the session keeps as its end message.
    await row.getByRole('button', { name: /^End session of .*Demo Bank$/ }).click();
    const confirm = page.locator(`#end-${sessionId}`);
    expect(await confirm.locator('button[type="submit"]').isDisabled()).toBe(true);
    await confirm.getByLabel('Reason (required)').fill('Compliance check: end of shift');
    await confirm.locator('button[type="submit"]').click();
    await page.getByText(/^The session of .*Demo Bank has ended\.$/).waitFor();
    // The watching page says so, with the administrator's message.
    await expect.poll(() => viewer.locator('#live-ended-reason').textContent(), { timeout: 15_000 }).toBe('Ended by an administrator');
    await expect.poll(() => viewer.locator('#live-admin-message').textContent()).toBe('The administrator’s message: Compliance check: end of shift');
    const ended = (await (await context.request.get(`${ts.url}/api/sessions/${sessionId}`)).json()) as { state: string; endReason: string; endMessage: string };
    expect(ended).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'Compliance check: end of shift' });
    expect(watch.violations).toEqual([]);
    await context.close();

    // 5. An auditor finds the session's recording by person and portal, and opens its replay.
    const aurelio = await sessionCaller(ts, 'aurelio', ['auditor']);
    const desk = await watchedContext(browser);
    await desk.context.addCookies([{ name: 'webasset', value: cookieOf(aurelio), url: ts.url }]);
    const auditor = await desk.context.newPage();
    await auditor.goto(`${ts.url}/recordings`);
    await auditor.locator('#recordings-userId').selectOption(root.id);
    await auditor.locator('#recordings-assetId').selectOption('demo-bank');
    const recording = auditor.locator(`#recordings tr[data-session="${sessionId}"]`);
    // The recording is sealed once the session's end has reached it: search again until it says so.
    await expect
      .poll(
        async () => {
          await auditor.locator('#recordings-search').click();
          await recording.waitFor({ timeout: 10_000 }).catch(() => undefined);
          return (await recording.count()) > 0 ? recording.locator('.pill').first().textContent() : null;
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe('Sealed');
    expect(await recording.locator('td').nth(0).textContent()).toBe('Demo Bank');
    await auditor.screenshot({ path: join(ARTIFACTS, 'auditor-recordings.en.png'), fullPage: true });
    const recordingId = (await recording.getAttribute('data-recording'))!;
    await recording.getByRole('link', { name: /^Replay/ }).click();
    await auditor.waitForURL(`${ts.url}/recordings/${recordingId}/replay`);
    await auditor.locator('#play:not([disabled])').waitFor({ timeout: 30_000 });
    expect(await auditor.locator('#event-list li').count()).toBeGreaterThan(0);

    // The trail has the administrator's end, with her reason, in the auditor's search.
    await auditor.goto(`${ts.url}/audit`);
    await auditor.locator('#audit-action').fill('browser_session.ended');
    await auditor.locator('#audit-targetId').fill(sessionId);
    await auditor.locator('#audit-search').click();
    // The page shows the latest events until the filtered answer replaces them: wait for that answer.
    await expect.poll(async () => [...new Set(await auditor.locator('#audit-events tbody tr code').allTextContents())], { timeout: 15_000 }).toEqual(['browser_session.ended']);
    expect(desk.watch.violations).toEqual([]);
    await desk.context.close();
  }, 240_000);

  it('the live view: the operator types accented text into the transfer form, sees an administrator watching, comes back after a dropped connection and ends the session', async () => {
    // The credential of the demo bank serves one session at a time: any session an earlier test left open is ended first.
    const ama = await sessionCaller(ts, 'amaro', ['admin']);
    const open = (await call(ts, ama, 'GET', '/api/sessions?all=true')).json as { sessions: Array<{ id: string; state: string }> };
    for (const left of open.sessions.filter((s) => s.state !== 'ended')) await call(ts, ama, 'DELETE', `/api/sessions/${left.id}`, { reason: 'test cleanup' });
    const olga = await sessionCaller(ts, 'olga', ['operator']);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: olga.userId!, assetId: 'demo-bank', actions: ['connect'] }, TEST_ADMIN);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: ama.userId!, assetId: 'demo-bank', actions: ['watch'] }, TEST_ADMIN);
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(olga), url: ts.url }]);
    const page = await context.newPage();
    let sockets = 0;
    page.on('websocket', () => sockets++);

    // 1. From the launcher to the live view: the portal, logged in, under the slim bar.
    await page.goto(`${ts.url}/`);
    await page.locator('li.card[data-asset="demo-bank"]').getByRole('button', { name: 'Open Demo Bank' }).click();
    await page.waitForURL(/\/sessions\/[^/]+$/, { timeout: 30_000 });
    const sessionId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]!);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.locator('#live-name').textContent()).toBe('Demo Bank');
    expect(await page.locator('#live-elapsed').textContent()).toMatch(/^Elapsed \d+ sec$/);
    expect(await page.locator('#live-idle-left').textContent()).toMatch(/^Idle timeout in 1[45] min/);
    expect(await page.locator('#live-max-left').textContent()).toMatch(/^Ends in [78] hr/);
    // The demo bank denies paste: no paste button. Nothing was copied: no copy button.
    expect(await page.locator('#live-paste').count()).toBe(0);
    expect(await page.locator('#live-copy-out').count()).toBe(0);
    const detail = (await (await context.request.get(`${ts.url}/api/sessions/${sessionId}`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ assetName: 'Demo Bank', idleTimeoutMs: 15 * 60_000, maxDurationMs: 480 * 60_000, clipboardCopy: 'deny', clipboardPaste: 'deny' });
    // The keyboard belongs to the portal once it is shown.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('live-keys');

    // 2. Keys through the live view: Tab past the bank's name to "Make a transfer", Enter; on the form, Tab to "To" and type.
    const owner = { kind: 'user' as const, id: olga.userId!, name: 'olga', roles: ['operator' as const], groups: [], via: 'session' as const, mfa: true };
    const remote = async () => {
      const handle = await ts.server.browser.sessions.agent(sessionId, owner);
      return handle.controls.snapshot({ redact: handle.redact });
    };
    await focusTransferRecipient(page, async () => (await remote()).page.url);
    await page.keyboard.type('Pagamento São Jo');
    // A dead key (~) composed with a by the input method, as a Portuguese keyboard does it: the composed letter goes as text.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Input.imeSetComposition', { text: '~', selectionStart: 1, selectionEnd: 1 });
    await cdp.send('Input.insertText', { text: 'ã' });
    await page.keyboard.type('o');
    // What the portal's field holds, read back from the session's page: accents arrived as composed text.
    await expect.poll(async () => (await remote()).text, { timeout: 15_000 }).toContain('Pagamento São João');
    expect(watch.wsTexts).toContain(JSON.stringify({ type: 'text', text: 'ã' }));
    expect(watch.wsTexts.filter((text) => text.includes('"type":"key"') && text.includes('"Tab"')).length).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: join(ARTIFACTS, 'live-session.en.png') });

    // 3. An administrator watches: a banner on the operator's page names her, and goes when she leaves.
    const admin = await watchedContext(browser);
    await admin.context.addCookies([{ name: 'webasset', value: cookieOf(ama), url: ts.url }]);
    const adminPage = await admin.context.newPage();
    await adminPage.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => adminPage.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Watching (read-only)');
    await expect.poll(() => page.locator('#live-watchers').textContent(), { timeout: 15_000 }).toBe('Being watched (read-only) by: amaro');
    await page.screenshot({ path: join(ARTIFACTS, 'live-session-watched.en.png') });
    expect(admin.watch.wsTexts.some((text) => text.includes('"type":"watchers"'))).toBe(false); // a watcher is not told about watchers
    expect(admin.watch.violations).toEqual([]);
    await admin.context.close();
    await page.locator('#live-watchers').waitFor({ state: 'detached', timeout: 15_000 });

    // 4. A network blip: the server's side of the socket is cut. The page says so, opens another one, and the session goes on.
    // A function, not a string: a string predicate that has to be polled is run by eval in the page, which the product's CSP refuses.
    type Doc = { document: { querySelector(selector: string): { textContent: string | null } | null } };
    const reconnecting = page.waitForFunction(() => (globalThis as unknown as Doc).document.querySelector('#live-status')?.textContent === 'Reconnecting…', undefined, {
      polling: 'raf',
      timeout: 15_000,
    });
    for (const client of ts.server.http.websocketServer.clients) client.terminate();
    await reconnecting;
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    expect(sockets).toBeGreaterThanOrEqual(2);
    expect((await (await context.request.get(`${ts.url}/api/sessions/${sessionId}`)).json()) as unknown).toMatchObject({ state: 'active' });
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('live-keys');
    await page.keyboard.type(' ñ');
    await expect.poll(async () => (await remote()).text, { timeout: 15_000 }).toContain('Pagamento São João ñ');

    // 5. "End session", confirmed: the page says it ended, and why.
    await page.locator('#live-end').click();
    await page.locator('#live-end-confirm button[type="submit"]').click();
    await expect.poll(() => page.locator('#live-ended-reason').textContent(), { timeout: 15_000 }).toBe('You ended it');
    expect((await (await context.request.get(`${ts.url}/api/sessions/${sessionId}`)).json()) as unknown).toMatchObject({ state: 'ended', endReason: 'user' });

    await expectNothingLeaked(watch, [await page.content()]);
    await context.close();
  }, 240_000);

  it('the console invites a person (one-time link), makes a service account and its token (shown once, then gone), and writes a vault entry it never shows', async () => {
    const adam = await sessionCaller(ts, 'adam', ['admin']);
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(adam), url: ts.url }]);
    const page = await context.newPage();

    // A person: the answer's one-time enrolment link is shown where it was made.
    await page.goto(`${ts.url}/admin?section=users`);
    await page.locator('#users').waitFor();
    await page.locator('#invite-form').locator('xpath=..').locator('summary').click();
    await page.getByLabel('Username', { exact: true }).fill('dora');
    await page.getByLabel('Display name').fill('Dora Reis');
    await page.locator('#invite-form button[type="submit"]').click();
    await expect.poll(() => page.locator('#enrolment-url').textContent()).toMatch(/\/enrol\?token=/);
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('enrolment-link-title');
    const dora = page.locator('#users tr[data-user="dora"]');
    await dora.waitFor();
    // Her roles, changed in place.
    await dora.getByRole('button', { name: 'Change roles of dora' }).click();
    await dora.getByLabel('Auditor').check();
    await dora.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The roles of dora are changed').waitFor();
    // The row follows once the list is read again after the change.
    await expect.poll(() => dora.locator('td').nth(1).textContent(), { timeout: 15_000 }).toBe('Auditor, Operator');

    // A service account, then a token for it: the value once, with a copy button; afterwards only metadata.
    await page.locator('#invite-kind').selectOption('service');
    await page.getByLabel('Username', { exact: true }).fill('ledger-bot');
    await page.locator('#invite-form button[type="submit"]').click();
    await page.getByText('Service account ledger-bot created.').waitFor();
    await page.getByRole('link', { name: 'Agent tokens' }).click();
    await page.locator('#token-form').locator('xpath=..').locator('summary').click();
    await page.getByLabel('Token name').fill('ledger reader');
    await page.locator('#token-service').selectOption({ label: 'ledger-bot' });
    await page.getByLabel('api:read').check();
    await page.getByLabel('mcp').uncheck();
    await page.locator('#token-form button[type="submit"]').click();
    const value = (await page.locator('#token-value').textContent())!;
    expect(value).toMatch(/^wat_/);
    expect(await page.locator('#copy-token').isVisible()).toBe(true);
    // The token works, as the agent would use it.
    expect((await fetch(`${ts.url}/api/auth/session`, { headers: { authorization: `Bearer ${value}` } })).status).toBe(200);
    await page.locator('#token-done').click();
    await page.locator('#tokens tr[data-token="ledger reader"]').waitFor();
    expect(await page.content()).not.toContain(value);
    await page.reload();
    await page.locator('#tokens tr[data-token="ledger reader"]').waitFor();
    expect(await page.content()).not.toContain(value);

    // The vault: a new entry's values go in through password fields; the table shows its field names only.
    const secret = 'vault value the page never shows 42';
    await page.getByRole('link', { name: 'Vault' }).click();
    await page.locator('#vault-form').locator('xpath=..').locator('summary').click();
    await page.locator('#vault-id').fill('console-entry');
    expect(await page.getByLabel('Field 1 value').getAttribute('type')).toBe('password');
    await page.getByLabel('Field 1 value').fill('clerk');
    await page.getByRole('button', { name: 'Add a field' }).click();
    await page.getByLabel('Field 2 name').fill('password');
    await page.getByLabel('Field 2 value').fill(secret);
    await page.locator('#vault-form button[type="submit"]').click();
    await page.getByText('Entry console-entry saved as version 1.').waitFor();
    const entry = page.locator('#vault tr[data-entry="console-entry"]');
    expect(await entry.locator('td').first().textContent()).toBe('password, username');
    // Rotating: the form opens on that entry, its value fields empty.
    await entry.getByRole('button', { name: /^Set or rotate/ }).click();
    expect(await page.locator('#vault-id').inputValue()).toBe('console-entry');
    const valueFields = page.locator('#vault-form input[type="password"]');
    expect(await valueFields.count()).toBe(1);
    expect(await valueFields.first().inputValue()).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the last response bodies be read
    expect(watch.bodies.filter((body) => body.includes(secret))).toEqual([]);
    expect(await page.content()).not.toContain(secret);
    expect(watch.violations).toEqual([]);
    await context.close();
  }, 240_000);

  it('an account that must use MFA and has none enrols TOTP at sign-in, sees its recovery codes once, and is signed in', async () => {
    const carla = await ts.services.users.create({ username: 'carla', roles: ['operator'], source: 'local' }, TEST_ADMIN);
    const link = new URL((await ts.services.users.createEnrolmentLink(carla.id, 'enrol', TEST_ADMIN)).url);
    // Her link only sets a password (operators need no second factor here); then an administrator requires one.
    const set = await fetch(`${ts.url}/api/auth/enrolment/${link.searchParams.get('token')}/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ts.url },
      body: JSON.stringify({ password: 'she keeps a long passphrase' }),
    });
    expect(await set.json()).toEqual({ done: true });
    await ts.services.users.update(carla.id, { mfaRequired: true }, TEST_ADMIN);

    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await page.goto(`${ts.url}/sign-in`);
    await page.getByLabel('Username').fill('carla');
    await page.getByLabel('Password').fill('she keeps a long passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Your account must use a second factor.').waitFor();
    const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
    await page.getByLabel('Code shown by the app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('#recovery-codes li').count()).toBe(10);
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
    await page.waitForURL(`${ts.url}/`);
    await expect.poll(() => page.locator('#who').textContent()).toBe('carla');
    await page.getByText('No portal is shared with you yet').waitFor();
    expect(watch.violations).toEqual([]);
    await context.close();
  });

  it('speaks the browser language (Brazilian Portuguese here), switches to Spanish from the page and remembers it; <html lang> follows', async () => {
    const context = await browser.newContext({ locale: 'pt-BR', viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    await page.goto(`${ts.url}/sign-in`);
    await page.getByRole('heading', { name: 'Entrar' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('pt-BR');
    expect(await page.title()).toBe('Entrar · WebAsset Controller');
    // A refusal in Portuguese, with the lockout policy's figures written for the locale.
    await page.getByLabel('Usuário').fill('nobody');
    await page.getByLabel('Senha').fill('not the password');
    await page.getByRole('button', { name: 'Entrar' }).click();
    await expect.poll(() => page.locator('#sign-in-message').textContent()).toBe(
      'O usuário ou a senha estão errados, ou a conta não pode entrar agora. Após 10 tentativas com falha, a conta fica bloqueada por 30 minutos; se isso aconteceu, aguarde ou peça a um administrador para desbloqueá-la.',
    );
    // The switch: the message already shown is written again in the new language.
    await page.getByLabel('Idioma').selectOption('es');
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('es');
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    expect(await page.locator('#sign-in-message').textContent()).toContain('Tras 10 intentos fallidos, la cuenta se bloquea durante 30 minutos');
    // Remembered by this browser: a new load stays in Spanish although the browser asks for Portuguese.
    await page.reload();
    await page.getByLabel('Usuario', { exact: true }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await page.getByLabel('Idioma').inputValue()).toBe('es');
    // Another browser of the same person that asks for a language the UI lacks gets English.
    const other = await browser.newContext({ locale: 'de-DE' });
    const otherPage = await other.newPage();
    await otherPage.goto(`${ts.url}/sign-in`);
    await otherPage.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await otherPage.locator('html').getAttribute('lang')).toBe('en');
    await other.close();
    await context.close();
  });
});

describe('web UI: sign-in refusals say what to do and how long to wait', () => {
  let ts: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_LOCKOUT_THRESHOLD: '2', WEBASSET_LOCKOUT_MINUTES: '7', WEBASSET_SIGNIN_IP_LIMIT: '3' });
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
  });

  it('a wrong password states the lockout policy; past the address limit, the form waits with a countdown', async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await page.goto(`${ts.url}/`);
    // Signed out: the app goes to its sign-in page. No SSO configured here: no SSO button.
    await page.waitForURL(`${ts.url}/sign-in`);
    expect(await page.locator('#sso').count()).toBe(0);
    const message = page.locator('#sign-in-message');
    const statuses: number[] = [];
    const attempt = async () => {
      await page.getByLabel('Username').fill('someone');
      await page.getByLabel('Password').fill('not the password');
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
      await page.getByRole('button', { name: 'Sign in' }).click();
      statuses.push((await answered).status());
    };

    await attempt();
    await expect.poll(() => message.textContent()).toContain('After 2 failed attempts an account is locked for 7 minutes');
    // Attempts from this address within 15 minutes past the limit (3) are refused with Retry-After.
    while (statuses.at(-1) !== 429 && statuses.length < 6) await attempt();
    expect(statuses).toEqual([401, 401, 401, 429]);
    await expect.poll(() => message.textContent()).toMatch(/Too many sign-in attempts from this address\. Try again in \d+ minutes?( \d+ seconds?)?\./);
    expect(await page.getByRole('button', { name: 'Sign in' }).isDisabled()).toBe(true);
    expect(watch.violations).toEqual([]);
    await context.close();
  });
});

describe('web UI live view: signing in, then the clipboard where the portal allows it (a portal of our own)', () => {
  const PASSWORD = 'clipboard-canary-Pa55word-3b7e';
  let ts: TestServer;
  let site: PortalSite;
  let browser: Browser;
  let clara: Caller;

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    clara = await sessionCaller(ts, 'clara', ['operator']);
    await addPortalAsset(ts, site, { assetId: 'clip-portal', password: PASSWORD, connect: [clara], clipboard: 'allow' });
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await site?.close();
  });

  it('says "Signing in" until the portal is logged in, then pastes this computer\'s clipboard into it and copies what it copies back', async () => {
    // The portal holds the login's POST: the session stays logging_in while the page is opened.
    site.holdLogins();
    const started = call(ts, clara, 'POST', '/api/sessions', { assetId: 'clip-portal' });
    let sessionId = '';
    await expect
      .poll(async () => {
        const list = (await call(ts, clara, 'GET', '/api/sessions')).json as { sessions: Array<{ id: string; state: string }> };
        sessionId = list.sessions.find((s) => s.state === 'logging_in')?.id ?? '';
        return sessionId;
      }, { timeout: 15_000 })
      .not.toBe('');
    const { context, watch } = await watchedContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ts.url });
    await context.addCookies([{ name: 'webasset', value: cookieOf(clara), url: ts.url }]);
    const page = await context.newPage();
    await page.goto(`${ts.url}/sessions/${sessionId}`);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 15_000 }).toBe('Signing in');
    // The portal's name comes with the session's details, which may arrive after the socket's first state.
    await expect
      .poll(() => page.locator('#live-overlay').textContent(), { timeout: 15_000 })
      .toBe('Signing in to Live portal… The portal appears here once the sign-in is done.');
    await page.screenshot({ path: join(ARTIFACTS, 'live-signing-in.en.png') });
    site.releaseLogins();
    expect((await started).status).toBe(201);
    await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 30_000 }).toBe('Live');
    await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });

    // Paste in: the button reads this computer's clipboard and the text lands in the portal's focused field.
    await page.evaluate("navigator.clipboard.writeText('Olá, açúcar e pão')");
    await page.locator('#live-paste').click();
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('live-keys');

    // Copy out: select the field and copy it in the portal; this computer's clipboard gets it (at once, or by the button).
    await page.evaluate("navigator.clipboard.writeText('something else')");
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Control+C');
    await expect
      .poll(
        async () => {
          if (await page.locator('#live-copy-out').isVisible()) await page.locator('#live-copy-out').click();
          return page.evaluate('navigator.clipboard.readText()');
        },
        { timeout: 15_000 },
      )
      .toBe('Olá, açúcar e pão');
    expect(watch.wsTexts).toContain(JSON.stringify({ type: 'paste', text: 'Olá, açúcar e pão' }));
    const note = site.nextNote();
    await page.keyboard.press('Enter');
    expect(await note).toBe('Olá, açúcar e pão');
    await expectNothingLeaked(watch, [], [PASSWORD]);
    await context.close();
  }, 120_000);
});
