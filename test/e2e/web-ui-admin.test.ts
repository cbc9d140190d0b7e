import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { sessionCaller, type Caller } from '../http/admin-callers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { axeViolations, blockingViolations } from '../support/axe.js';
import { ARTIFACTS, cookieOf, expectNothingLeaked, watchedContext } from '../support/web-ui.js';

// The administrator's console beyond the basics (issue 8.5): the demo bank's login recipe edited, tested
// (a wrong step is named, fixed, then the login works) and saved; a permission and a group changed in
// place from their rows; a burst of failed sign-ins seen in the alerts. Never a canary in what the
// administrator's browser received or showed.

const actor = { kind: 'user' as const, id: 'test-admin', name: 'Test admin' };

/** The demo bank's TOTP login as a recipe; `codeField` is where the code goes (the portal's field is #totp). */
function recipe(codeField: string): string {
  return JSON.stringify(
    {
      steps: [
        { fill: '#username', value: '{{username}}' },
        { fill: '#password', value: '{{password}}' },
        { click: '#sign-in' },
        { fill: codeField, value: '{{totp}}' },
        { click: '#verify' },
      ],
    },
    null,
    2,
  );
}

describe('web UI: the administrator edits and tests a login recipe, edits policy in place, and sees alerts', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let browser: Browser;
  let ada: Caller;

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_SIGNIN_IP_LIMIT: '100000', WEBASSET_AUTH_FAILURE_LIMIT: '10000' });
    portal = createDemoPortal(DEMO_CREDENTIALS);
    const url = await portal.start(0, '127.0.0.1');
    // The first administrator: the seed grants her connect and watch on the demo bank.
    ada = await sessionCaller(ts, 'ada', ['admin']);
    await seedDemoPortal(ts.services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, TEST_ADMIN);
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await portal?.stop();
  });

  it('recipe: a wrong step is named and marked, fixed, tested ok, saved; a permission and a group edited in place; the vault history; the alerts show a burst; no canary, no CSP violation', { timeout: 180_000 }, async () => {
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(ada), url: ts.url }]);
    const page = await context.newPage();
    const doms: string[] = [];

    // 1. The demo bank's login: the editor opens under "Edit"; the automatic recipe is in use (empty recipe).
    await page.goto(`${ts.url}/admin?section=assets`);
    await page.getByRole('button', { name: 'Edit Demo Bank' }).click();
    const editor = page.locator('#login-editor');
    await editor.waitFor();
    expect(await page.locator('#asset-recipe').inputValue()).toBe('');
    await page.locator('#recipe-automatic').waitFor();

    // Not JSON: said beside the field, nothing sent.
    await page.getByLabel('Login recipe').fill('{ "steps": [');
    await page.getByRole('button', { name: 'Test login now' }).click();
    await page.locator('#asset-recipe-problem').getByText('This is not valid JSON.').waitFor();

    // 2. A recipe whose fourth step names the wrong field: the test says which step failed, and marks it.
    await page.getByLabel('Login recipe').fill(recipe('#otp'));
    await page.locator('#recipe-steps li').nth(4).waitFor();
    await page.getByRole('button', { name: 'Test login now' }).click();
    const result = page.locator('#test-login-result');
    await result.getByText('The login failed at step 4 (fill).').waitFor({ timeout: 90_000 });
    expect(await result.textContent()).toContain('Step 4: fill #otp failed: timed out');
    expect(await page.locator('#recipe-steps li[data-step="4"]').getAttribute('aria-current')).toBe('step');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-recipe-failed.en.png'), fullPage: true });
    doms.push(await page.content());
    // Nothing was saved by a test.
    expect((await ts.services.assets.get('demo-bank'))!.loginRecipe).toBeNull();

    // 3. Fixed with the step list: the wrong step removed, the right one added at the end and moved up before "click #verify".
    await page.getByRole('button', { name: 'Remove step 4' }).click();
    await page.getByLabel('Step', { exact: true }).selectOption('fill');
    await page.getByLabel('Selector').fill('#totp');
    await page.getByLabel('Value', { exact: true }).fill('{{totp}}');
    await page.getByLabel('Value', { exact: true }).press('Enter');
    await page.locator('#recipe-steps li[data-step="5"]').getByText('fill #totp').waitFor();
    await page.getByRole('button', { name: 'Move step 5 up' }).click();
    await page.locator('#recipe-steps li[data-step="4"]').getByText('fill #totp').waitFor();
    expect(JSON.parse(await page.locator('#asset-recipe').inputValue())).toEqual(JSON.parse(recipe('#totp')));
    // Enter in the add form added the step; it did not save the editor's form.
    expect((await ts.services.assets.get('demo-bank'))!.loginRecipe).toBeNull();
    // Then the test: the login works; then it is saved.
    await page.getByRole('button', { name: 'Test login now' }).click();
    await result.getByText(/^The login worked/).waitFor({ timeout: 60_000 });
    expect(await page.locator('#recipe-steps li[aria-current]').count()).toBe(0);
    await page.getByRole('button', { name: 'Save login' }).click();
    await result.getByText('The login recipe and checks are saved.').waitFor();
    expect((await ts.services.assets.get('demo-bank'))!.loginRecipe).toEqual(JSON.parse(recipe('#totp')));
    await page.screenshot({ path: join(ARTIFACTS, 'admin-recipe-ok.en.png'), fullPage: true });
    doms.push(await page.content());

    // 4. A permission changed in place: Ada's on the demo bank keeps "Open sessions" only, at most 2 at once.
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Permissions' }).click();
    const grant = (await ts.services.grants.list({ subjectKind: 'user', subjectId: ada.userId! }))[0]!;
    const row = page.locator(`#permissions tr[data-permission="${grant.id}"]`);
    await row.getByRole('button', { name: /^Edit / }).click();
    const form = page.locator(`#edit-permission-${grant.id}`);
    await expect.poll(() => page.evaluate(`document.activeElement && document.activeElement.closest('#edit-permission-${grant.id}') !== null`)).toBe(true);
    await form.getByLabel('Watch sessions').uncheck();
    await form.getByLabel('Sessions at once').fill('2');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await expect.poll(() => row.locator('td').nth(3).textContent()).toBe('2');
    expect(await row.locator('td').nth(1).textContent()).toBe('Open sessions');
    expect(await ts.services.grants.get(grant.id)).toMatchObject({ actions: ['connect'], maxConcurrent: 2 });

    // 5. A group renamed in place, from its row.
    const tellers = await ts.services.groups.create({ name: 'tellers', description: 'Front desk', roles: ['operator'] }, TEST_ADMIN);
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('button', { name: 'Edit tellers' }).click();
    const groupForm = page.locator(`#edit-group-${tellers.id}`);
    // The form takes the focus when it opens (its first field): typing waits for that, or it would land there.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe(`edit-group-${tellers.id}-name`);
    await groupForm.getByLabel('Description').fill('Front desk, both branches');
    await groupForm.getByRole('button', { name: 'Save' }).click();
    // The form closes once saved (a refusal would stay in it, and be named here).
    await expect.poll(async () => ((await groupForm.count()) === 0 ? 'saved' : ((await groupForm.locator('.error').allTextContents()).join(' ') || 'open')), { timeout: 15_000 }).toBe('saved');
    expect(await ts.services.groups.get(tellers.id)).toMatchObject({ description: 'Front desk, both branches' });
    await expect.poll(() => page.locator('#groups tr[data-group="tellers"] td').first().textContent()).toBe('Front desk, both branches');

    // 6. The vault entry's history: its versions' metadata, never a value.
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Vault' }).click();
    await page.getByRole('button', { name: 'History of demo-bank' }).click();
    const versions = page.locator('#vault-versions-demo-bank tbody tr');
    await versions.first().waitFor();
    expect(await versions.count()).toBe(1);
    expect((await versions.first().locator('td').first().textContent())!.split(', ').sort()).toEqual(['password', 'totpSeed', 'username']);
    doms.push(await page.content());

    // 7. A burst of failed sign-ins for one account: the alerts section shows it, newest first.
    await ts.services.users.create({ username: 'bruno', roles: ['operator'], source: 'local', kind: 'person' }, TEST_ADMIN);
    for (let i = 0; i < 7; i += 1) {
      const res = await fetch(`${ts.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bruno', password: 'a wrong guess every time' }) });
      expect(res.status).toBe(401);
    }
    await ts.services.audit.trail.flush();
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Alerts' }).click();
    await page.waitForURL(`${ts.url}/admin?section=alerts`);
    const alert = page.locator('#alerts tbody tr').filter({ hasText: 'Account bruno' });
    await alert.waitFor();
    expect(await alert.locator('td').nth(0).textContent()).toContain('Failed sign-ins (brute force)');
    expect(await alert.locator('td.number').textContent()).toBe('6');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-alerts.en.png'), fullPage: true });
    doms.push(await page.content());

    await expectNothingLeaked(watch, [...doms, ts.logs.text()]);
    await context.close();
  });

  it('the permissions grid: a group\'s cell names its actions and marks; an empty cell creates a grant; a cell opens its grant\'s editor; a real address; axe finds nothing serious or critical', { timeout: 120_000 }, async () => {
    const clerks = await ts.services.groups.create({ name: 'clerks', description: 'Back office', roles: ['operator'] }, TEST_ADMIN);
    const cashiers = await ts.services.groups.create({ name: 'cashiers', description: 'Counters', roles: ['operator'] }, TEST_ADMIN);
    const hours = { timeZone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' };
    const clerksGrant = await ts.services.grants.create({ subjectKind: 'group', subjectId: clerks.id, assetId: 'demo-bank', actions: ['connect', 'watch'], timeWindow: hours }, TEST_ADMIN);
    const { context, watch } = await watchedContext(browser);
    await context.addCookies([{ name: 'webasset', value: cookieOf(ada), url: ts.url }]);
    const page = await context.newPage();

    // The switch is a real link: the grid has its own address.
    await page.goto(`${ts.url}/admin?section=permissions`);
    await page.getByRole('navigation', { name: 'Permissions view' }).getByRole('link', { name: 'Grid' }).click();
    await page.waitForURL(`${ts.url}/admin?section=permissions&view=grid`);
    const grid = page.getByRole('table', { name: /^Permissions by group/ });
    await grid.waitFor();
    expect(await grid.getByRole('columnheader', { name: 'Demo Bank' }).count()).toBe(1);
    expect(await grid.getByRole('rowheader', { name: /^clerks/ }).count()).toBe(1);

    // The clerks' cell: its actions and a mark for the time window, in its text and in its name.
    const clerksCell = grid.getByRole('button', { name: 'clerks on Demo Bank: Open sessions, Watch sessions; Time window' });
    expect(await clerksCell.textContent()).toBe('Open sessions, Watch sessions; Time window');

    // The cashiers' empty cell, with the keyboard: a small form, focused on its first field, creates the grant.
    await grid.getByRole('button', { name: 'cashiers on Demo Bank: no permission, add one' }).focus();
    await page.keyboard.press('Enter');
    const createForm = page.getByRole('form', { name: 'New permission for cashiers on Demo Bank' });
    await createForm.waitFor();
    await expect.poll(() => page.evaluate(`document.activeElement && document.activeElement.closest('#grid-new') !== null`)).toBe(true);
    await createForm.getByLabel('Watch sessions').check();
    await createForm.getByLabel('Sessions at once').fill('4');
    await createForm.getByRole('button', { name: 'Add a permission' }).click();
    await createForm.waitFor({ state: 'detached' });
    await grid.getByRole('button', { name: 'cashiers on Demo Bank: Open sessions, Watch sessions; Up to 4 at once' }).waitFor();
    const created = await ts.services.grants.list({ subjectKind: 'group', subjectId: cashiers.id });
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ assetId: 'demo-bank', actions: ['connect', 'watch'], maxConcurrent: 4, timeWindow: null });

    // The clerks' cell opens their grant's editor; saved, the cell says so and has the focus back.
    await clerksCell.click();
    const editForm = page.locator(`#edit-permission-${clerksGrant.id}`);
    await editForm.waitFor();
    await expect.poll(() => page.evaluate(`document.activeElement && document.activeElement.closest('#edit-permission-${clerksGrant.id}') !== null`)).toBe(true);
    await editForm.getByLabel('Watch sessions').uncheck();
    await editForm.getByRole('button', { name: 'Save' }).click();
    await editForm.waitFor({ state: 'detached' });
    const edited = grid.getByRole('button', { name: 'clerks on Demo Bank: Open sessions; Time window' });
    await edited.waitFor();
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe(`grid-grant-${clerksGrant.id}`);
    expect(await ts.services.grants.get(clerksGrant.id)).toMatchObject({ actions: ['connect'], timeWindow: hours });
    await page.screenshot({ path: join(ARTIFACTS, 'admin-permission-grid.en.png'), fullPage: true });
    const dom = await page.content();
    await expectNothingLeaked(watch, [dom, ts.logs.text()]);
    await context.close();

    // axe, on the grid's own address, with a cell's editor open.
    const axeContext = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    await axeContext.addCookies([{ name: 'webasset', value: cookieOf(ada), url: ts.url }]);
    const axePage = await axeContext.newPage();
    await axePage.goto(`${ts.url}/admin?section=permissions&view=grid`);
    await axePage.locator('#permission-grid').waitFor();
    await axePage.getByRole('button', { name: /^clerks on Demo Bank: / }).click();
    await axePage.locator('form.edit-in-place').waitFor();
    expect(blockingViolations(await axeViolations(axePage))).toEqual([]);
    await axeContext.close();
  });

  it('axe finds nothing serious or critical in the login editor (with a failed test shown), the in-place forms and the alerts', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    await context.addCookies([{ name: 'webasset', value: cookieOf(ada), url: ts.url }]);
    const page = await context.newPage();
    const violations = async (): Promise<string[]> => blockingViolations(await axeViolations(page));

    await page.goto(`${ts.url}/admin?section=assets`);
    await page.getByRole('button', { name: 'Edit Demo Bank' }).click();
    await page.locator('#login-editor').waitFor();
    // A step that gives up at once: the failed state, with its marked step, is checked too.
    await page.getByLabel('Login recipe').fill(JSON.stringify({ steps: [{ goto: '/login-totp' }, { waitFor: { selector: '#no-such-field', timeoutMs: 200 } }] }));
    await page.getByRole('button', { name: 'Test login now' }).click();
    await page.locator('#recipe-steps li[aria-current="step"]').waitFor({ timeout: 60_000 });
    await page.getByLabel('Login recipe').fill('{');
    await page.getByRole('button', { name: 'Test login now' }).click();
    await page.locator('#asset-recipe-problem').waitFor();
    expect(await violations()).toEqual([]);

    await page.goto(`${ts.url}/admin?section=permissions`);
    await page.locator('#permissions tbody tr').first().getByRole('button', { name: /^Edit / }).click();
    await page.locator('form.edit-in-place').waitFor();
    expect(await violations()).toEqual([]);

    await page.goto(`${ts.url}/admin?section=alerts`);
    await page.locator('#alerts tbody tr').first().waitFor();
    expect(await violations()).toEqual([]);
    await context.close();
  });
});
