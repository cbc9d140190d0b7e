import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller } from '../http/admin-callers.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import { ARTIFACTS } from '../support/web-ui.js';
import { axeViolations } from '../support/axe.js';

const LANGUAGES = [
  { lang: 'en', locale: 'en-US', texts: { signIn: 'Sign in', enrol: 'Set up your account', launcher: 'Your portals', sessions: 'My sessions', live: 'Live', admin: 'Ended by an administrator', audit: 'Audit trail', recordings: 'Recordings', console: 'Administration' } },
  { lang: 'pt-BR', locale: 'pt-BR', texts: { signIn: 'Entrar', enrol: 'Configure sua conta', launcher: 'Seus portais', sessions: 'Minhas sessões', live: 'Ao vivo', admin: 'Encerrada por um administrador', audit: 'Trilha de auditoria', recordings: 'Gravações', console: 'Administração' } },
  { lang: 'es', locale: 'es-ES', texts: { signIn: 'Iniciar sesión', enrol: 'Configura tu cuenta', launcher: 'Tus portales', sessions: 'Mis sesiones', live: 'En vivo', admin: 'La terminó un administrador', audit: 'Registro de auditoría', recordings: 'Grabaciones', console: 'Administración' } },
] as const;

/** The administrator's console, one page per section (`/admin?section=`), and the table each section shows. */
const CONSOLE_SECTIONS = { sessions: '#live-sessions', users: '#users', groups: '#groups', assets: '#assets', permissions: '#permissions', vault: '#vault', tokens: '#tokens', alerts: '#alerts' } as const;
type ConsoleSection = keyof typeof CONSOLE_SECTIONS;

type PageName = 'sign-in' | 'enrol-password' | 'enrol-totp' | 'launcher' | 'my-sessions' | 'audit' | 'recordings' | `admin-${ConsoleSection}` | 'admin-permissions-grid' | 'live-control' | 'live-watch';
/** Who a signed-in page is seen by: Ana, an operator; Aurora, an auditor (the desk); Adele, an administrator (the console); Lina, an operator in a live session of the demo bank. */
type Viewer = 'operator' | 'auditor' | 'admin' | 'live';

/** Every CSP violation and page error a context reports. */
function watchProblems(context: BrowserContext): string[] {
  const problems: string[] = [];
  context.on('console', (message) => {
    if (/Content Security Policy|CSP violation/i.test(message.text())) problems.push(message.text());
  });
  context.on('weberror', (error) => problems.push(`page error: ${error.error().message}`));
  return problems;
}

describe('web UI: every page in every language, screenshot and axe (no serious or critical violation), keyboard only', () => {
  let ts: TestServer;
  let browser: Browser;
  let cookie: string;
  let auditorCookie: string;
  let adminCookie: string;
  let liveCookie: string;
  let liveSessionId: string;
  let portal: DemoPortal;
  let adminUserIds: string[] = [];
  const sessionIds: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ts = await startTestServer();
    const { assets, grants } = ts.services;
    const ana = await sessionCaller(ts, 'ana', ['operator']);
    cookie = /^webasset=(.*)$/.exec(ana.headers('GET').cookie!)![1]!;
    const aurora = await sessionCaller(ts, 'aurora', ['auditor']);
    auditorCookie = /^webasset=(.*)$/.exec(aurora.headers('GET').cookie!)![1]!;
    const adele = await sessionCaller(ts, 'adele', ['admin']);
    adminCookie = /^webasset=(.*)$/.exec(adele.headers('GET').cookie!)![1]!;
    // Something in each section of the console: a group with a member, a vault entry, a service account with a token.
    // (Not Ana in the group: a change of her groups would give her web session a new cookie, and the contexts below use hers.)
    const bot = await ts.services.users.create({ username: 'report-bot', roles: ['agent'], source: 'local', kind: 'service' }, TEST_ADMIN);
    const agents = await ts.services.groups.create({ name: 'Report agents', description: 'Agents that read monthly reports', roles: ['agent'] }, TEST_ADMIN);
    await ts.services.groups.addMember(agents.id, bot.id, TEST_ADMIN);
    await ts.services.vault.set({ entryId: 'demo-bank-login', values: new Map([['username', Buffer.from('teller')], ['password', Buffer.from('not shown anywhere')]]) }, TEST_ADMIN);
    await ts.services.tokens.create({ name: 'monthly report', serviceAccountId: bot.id, scopes: ['mcp'], createdBy: TEST_ADMIN });

    // Three portals: one with a live session of Ana's, one available, one outside her time window.
    await assets.create({ id: 'demo-bank', name: 'Demo Bank', url: 'http://bank.example.test:8090/' }, TEST_ADMIN);
    await assets.create({ id: 'payroll', name: 'Payroll portal', url: 'https://payroll.example.test/' }, TEST_ADMIN);
    await assets.create({ id: 'tax-office', name: 'Tax office', url: 'https://tax.example.test/' }, TEST_ADMIN);
    for (const assetId of ['demo-bank', 'payroll']) await grants.create({ subjectKind: 'user', subjectId: ana.userId!, assetId, actions: ['connect'] }, TEST_ADMIN);
    const day = ((new Date().getUTCDay() + 2) % 7) + 1;
    await grants.create({ subjectKind: 'user', subjectId: ana.userId!, assetId: 'tax-office', actions: ['connect'], timeWindow: { timeZone: 'UTC', days: [day], start: '03:00', end: '03:01' } }, TEST_ADMIN);

    // Her sessions, as the sessions store keeps them: a live one (held by another node) and ended ones of each kind.
    const now = Date.now();
    const rows: Array<{ key: string; asset: string; state: string; reason: string | null; message: string | null; startedAgo: number; lasted: number | null }> = [
      { key: 'live', asset: 'demo-bank', state: 'active', reason: null, message: null, startedAgo: 754_000, lasted: null },
      { key: 'user', asset: 'demo-bank', state: 'ended', reason: 'user', message: null, startedAgo: 3 * 3600_000, lasted: 1_265_000 },
      { key: 'admin', asset: 'payroll', state: 'ended', reason: 'admin', message: 'Maintenance window', startedAgo: 26 * 3600_000, lasted: 2_700_000 },
      { key: 'idle', asset: 'demo-bank', state: 'ended', reason: 'idle_timeout', message: null, startedAgo: 50 * 3600_000, lasted: 930_000 },
      { key: 'login', asset: 'payroll', state: 'ended', reason: 'login_failed', message: 'step 2 (fill password): no such field', startedAgo: 75 * 3600_000, lasted: 21_000 },
    ];
    for (const row of rows) {
      const id = randomUUID();
      sessionIds[row.key] = id;
      const started = now - row.startedAgo;
      await ts.services.database.db
        .insertInto('browser_sessions')
        .values({
          id,
          asset_id: row.asset,
          user_id: ana.userId!,
          principal_kind: 'user',
          state: row.state,
          end_reason: row.reason,
          end_message: row.message,
          created_at_ms: started,
          active_at_ms: started + 4000,
          ended_at_ms: row.lasted === null ? null : started + row.lasted,
          last_input_at_ms: started + 5000,
          node_id: 'a11y-other-node',
          credential: null,
        })
        .execute();
      // Each ended session has its sealed recording, for the auditor's desk.
      if (row.state === 'ended') {
        const recorder = await ts.services.recordings.begin({ sessionId: id, assetId: row.asset, userId: ana.userId!, retentionDays: 30 });
        recorder.event({ type: 'navigated', tabId: 't1', url: `https://${row.asset}.example.test/accounts`, title: 'Accounts' });
        await recorder.seal({ complete: true });
      }
    }
    // A live session of the demo bank for the live view: Lina's (control); Adele watches it (watch). Idle for a day before it ends.
    portal = createDemoPortal(DEMO_CREDENTIALS);
    const portalUrl = await portal.start(0, '127.0.0.1');
    const lina = await sessionCaller(ts, 'lina', ['operator']);
    liveCookie = /^webasset=(.*)$/.exec(lina.headers('GET').cookie!)![1]!;
    await ts.services.vault.set({ entryId: 'live-bank-login', values: new Map([['username', Buffer.from(DEMO_CREDENTIALS.username)], ['password', Buffer.from(DEMO_CREDENTIALS.password)], ['totpSeed', Buffer.from(DEMO_CREDENTIALS.totpSeed)]]) }, TEST_ADMIN);
    await assets.create({ id: 'live-bank', name: 'Live Bank', url: `${portalUrl}/login`, credential: 'live-bank-login', allowInsecureHttp: true, policy: { idleTimeoutMinutes: 24 * 60 } }, TEST_ADMIN);
    await grants.create({ subjectKind: 'user', subjectId: lina.userId!, assetId: 'live-bank', actions: ['connect'] }, TEST_ADMIN);
    await grants.create({ subjectKind: 'user', subjectId: adele.userId!, assetId: 'live-bank', actions: ['watch'] }, TEST_ADMIN);
    const started = await call(ts, lina, 'POST', '/api/sessions', { assetId: 'live-bank' });
    expect(started.status).toBe(201);
    liveSessionId = (started.json as { id: string }).id;
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  });
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await portal?.stop();
  });

  /** An enrolment link for a new administrator (password, then TOTP); with `passwordSet`, the password step is done already. */
  async function enrolmentPath(passwordSet: boolean): Promise<string> {
    const user = await ts.services.users.create({ username: `newcomer-${adminUserIds.length + 1}`, roles: ['admin'], source: 'local' }, TEST_ADMIN);
    adminUserIds = [...adminUserIds, user.id];
    const link = new URL((await ts.services.users.createEnrolmentLink(user.id, 'enrol', TEST_ADMIN)).url);
    if (passwordSet) {
      const res = await fetch(`${ts.url}/api/auth/enrolment/${link.searchParams.get('token')}/password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: ts.url },
        body: JSON.stringify({ password: 'a long newcomer passphrase 9' }),
      });
      expect(res.status).toBe(200);
    }
    return `${link.pathname}${link.search}`;
  }

  async function newContext(locale: string, options: { signedIn: boolean; as?: Viewer }): Promise<BrowserContext> {
    const context = await browser.newContext({ locale, viewport: { width: 1100, height: 760 } });
    const value = options.as === 'auditor' ? auditorCookie : options.as === 'admin' ? adminCookie : options.as === 'live' ? liveCookie : cookie;
    if (options.signedIn) await context.addCookies([{ name: 'webasset', value, url: ts.url }]);
    return context;
  }

  /** Opens a page of the app and waits until it shows what `ready` names. */
  async function open(page: Page, name: PageName, path: string, texts: (typeof LANGUAGES)[number]['texts']): Promise<void> {
    await page.goto(`${ts.url}${path}`);
    switch (name) {
      case 'sign-in':
        await page.getByRole('heading', { level: 1, name: texts.signIn }).waitFor();
        break;
      case 'enrol-password':
        await page.locator('#new-password').waitFor();
        break;
      case 'enrol-totp':
        await page.locator('img.qr').waitFor();
        break;
      case 'launcher':
        await page.getByRole('heading', { level: 1, name: texts.launcher }).waitFor();
        await page.locator('li.card').nth(2).waitFor();
        break;
      case 'my-sessions':
        await page.getByRole('heading', { level: 1, name: texts.sessions }).waitFor();
        await page.locator('#sessions tbody tr').nth(4).waitFor();
        break;
      case 'audit':
        await page.getByRole('heading', { level: 1, name: texts.audit }).waitFor();
        await page.locator('#audit-events tbody tr').first().waitFor();
        break;
      case 'recordings':
        await page.getByRole('heading', { level: 1, name: texts.recordings }).waitFor();
        await page.locator('#recordings tbody tr').nth(3).waitFor();
        break;
      case 'admin-permissions-grid':
        await page.getByRole('heading', { level: 1, name: texts.console }).waitFor();
        await page.locator('#permission-grid tbody tr').first().waitFor();
        break;
      case 'live-control':
      case 'live-watch':
        // The portal is shown (no overlay), with the bar of the view's mode.
        await page.locator(name === 'live-control' ? '#live-end' : '#live-read-only').waitFor({ timeout: 30_000 });
        await page.locator('#live-overlay').waitFor({ state: 'detached', timeout: 30_000 });
        break;
      default: {
        await page.getByRole('heading', { level: 1, name: texts.console }).waitFor();
        await page.locator(`${CONSOLE_SECTIONS[name.slice('admin-'.length) as ConsoleSection]} tbody tr`).first().waitFor();
      }
    }
  }

  for (const { lang, locale, texts } of LANGUAGES) {
    it(`${lang}: sign-in, enrolment (password and TOTP), launcher, my sessions, the auditor's desk, every section of the console; a screenshot of each; axe finds nothing serious or critical`, async () => {
      const pages: Array<{ name: PageName; signedIn: boolean; as?: Viewer; path: () => Promise<string> }> = [
        { name: 'sign-in', signedIn: false, path: async () => '/sign-in' },
        { name: 'enrol-password', signedIn: false, path: () => enrolmentPath(false) },
        { name: 'enrol-totp', signedIn: false, path: () => enrolmentPath(true) },
        { name: 'launcher', signedIn: true, path: async () => '/' },
        { name: 'my-sessions', signedIn: true, path: async () => '/my-sessions' },
        { name: 'audit', signedIn: true, as: 'auditor', path: async () => '/audit' },
        { name: 'recordings', signedIn: true, as: 'auditor', path: async () => '/recordings' },
        ...(Object.keys(CONSOLE_SECTIONS) as ConsoleSection[]).map((section) => ({ name: `admin-${section}` as const, signedIn: true, as: 'admin' as const, path: async () => `/admin?section=${section}` })),
        { name: 'admin-permissions-grid', signedIn: true, as: 'admin', path: async () => '/admin?section=permissions&view=grid' },
        { name: 'live-control', signedIn: true, as: 'live', path: async () => `/sessions/${liveSessionId}` },
        { name: 'live-watch', signedIn: true, as: 'admin', path: async () => `/sessions/${liveSessionId}` },
      ];
      const report: string[] = [];
      for (const { name, signedIn, as, path } of pages) {
        // Under the product's CSP, which the page must not break; axe runs in the same page after the screenshot.
        const context = await newContext(locale, { signedIn, as });
        const problems = watchProblems(context);
        const page = await context.newPage();
        await open(page, name, await path(), texts);
        expect(await page.locator('html').getAttribute('lang'), name).toBe(lang);
        await page.screenshot({ path: join(ARTIFACTS, `${name}.${lang}.png`), fullPage: true });
        const violations = await axeViolations(page);
        expect(problems, name).toEqual([]);
        if (name === 'sign-in') {
          // The check does see a violation: a field without a label is reported as critical.
          await page.evaluate(`document.querySelector('main').insertAdjacentHTML('beforeend', '<input id="probe">')`);
          expect((await axeViolations(page)).find((v) => v.id === 'label')).toMatchObject({ impact: 'critical', nodes: [{ target: ['#probe'] }] });
        }
        await context.close();
        for (const v of violations) report.push(`${name} [${v.impact}] ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
      }
      const blocking = report.filter((line) => /\[(serious|critical)\]/.test(line));
      expect(blocking).toEqual([]);
      // What is left (moderate, minor) is printed for the record, not failed.
      if (report.length > 0) console.info(`axe, ${lang}:\n${report.join('\n')}`);
    }, 600_000); // fifteen page loads and axe runs on a machine shared with other browsers
  }

  it('my sessions says how each session ended, in words, with the administrator note; the live one links to its view', async () => {
    const context = await newContext('en-US', { signedIn: true });
    const page = await context.newPage();
    await open(page, 'my-sessions', '/my-sessions', LANGUAGES[0].texts);
    const rows = page.locator('#sessions tbody tr');
    const cells = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent)));
    expect(cells.map((c) => [c[0], c[3], c[4]])).toEqual([
      ['Demo Bank', 'Live', 'Still running'],
      ['Demo Bank', 'Ended', 'You ended it'],
      ['Payroll portal', 'Ended', 'Ended by an administratorNote: Maintenance window'],
      ['Demo Bank', 'Ended', 'Ended after being idle too long'],
      ['Payroll portal', 'Ended', 'Signing in to the portal failedNote: step 2 (fill password): no such field'],
    ]);
    expect(cells.map((c) => c[2])).toEqual([expect.stringMatching(/^(\d+ hr )?\d+ min( \d+ sec)?$/), '21 min 5 sec', '45 min', '15 min 30 sec', '21 sec']);
    expect(await rows.nth(0).getByRole('link').getAttribute('href')).toBe(`/sessions/${sessionIds.live}`);
    expect(await rows.nth(1).getByRole('link').count()).toBe(0);
    await context.close();
  });

  it('works from the keyboard: skip link, the banner, the pages, the language switch, the cards; every focused control shows its focus', async () => {
    const context = await newContext('en-US', { signedIn: true });
    const page = await context.newPage();
    await open(page, 'launcher', '/', LANGUAGES[0].texts);
    /** The focused element: its tag, its text or label, and whether a focus ring is drawn. */
    const focused = (on: Page = page) =>
      on.evaluate<{ tag: string; name: string; ring: boolean } | null>(`(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        const name = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('placeholder') || el.id || '').trim();
        return { tag: el.tagName.toLowerCase(), name, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
      })()`);
    const order: string[] = [];
    for (let i = 0; i < 9; i++) {
      await page.keyboard.press('Tab');
      const el = await focused();
      expect(el, `tab ${i + 1}`).not.toBeNull();
      expect(el!.ring, `focus ring on ${el!.tag} ${el!.name}`).toBe(true);
      order.push(`${el!.tag} ${el!.name}`);
    }
    // The portal outside its time window has a disabled button: out of the tab order.
    expect(order).toEqual([
      'a Skip to the content',
      'a Portals',
      'a My sessions',
      'select EnglishPortuguês (Brasil)Español',
      'button Sign out',
      'input Search portals',
      'a Return to session',
      'button End the session on Demo Bank',
      'button Open Payroll portal',
    ]);

    // The skip link goes past the banner: the next Tab is the search field.
    await page.reload();
    await page.locator('li.card').nth(2).waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ tag: 'input', name: 'Search portals' });

    // To My sessions and back by keyboard: the new page's heading has the focus, the live session's link comes next.
    for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+Tab');
    expect(await focused()).toMatchObject({ tag: 'a', name: 'My sessions' });
    await page.keyboard.press('Enter');
    await page.waitForURL(`${ts.url}/my-sessions`);
    await page.locator('#sessions tbody tr').nth(4).waitFor();
    expect(await focused()).toMatchObject({ tag: 'h1', name: 'My sessions' });
    await page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ tag: 'a', name: 'Open live view (Demo Bank)', ring: true });

    // The language switch by keyboard: the page follows at once.
    await page.locator('#language').focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('pt-BR');
    await page.getByRole('heading', { level: 1, name: 'Minhas sessões' }).waitFor();
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('en');

    // Signing in by keyboard alone: the username has the focus, Tab to the password, Enter sends.
    const signedOut = await newContext('en-US', { signedIn: false });
    const signIn = await signedOut.newPage();
    await open(signIn, 'sign-in', '/sign-in', LANGUAGES[0].texts);
    await expect.poll(() => focused(signIn)).toMatchObject({ tag: 'input', name: 'username' });
    await signIn.keyboard.type('nobody');
    await signIn.keyboard.press('Tab');
    await signIn.keyboard.type('not the password');
    const answered = signIn.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
    await signIn.keyboard.press('Enter');
    expect((await answered).status()).toBe(401);
    await signIn.locator('#sign-in-message').waitFor();
    await signedOut.close();
    await context.close();
  });
});
