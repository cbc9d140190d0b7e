import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePlaceholder, swapPlaceholder } from '../../../src/browser/login/inject-password.js';
import { runLogin } from '../../../src/browser/login/run-login.js';
import type { LoginInput } from '../../../src/browser/index.js';
import type { LoginRecipe } from '../../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../../src/demo-portal/index.js';
import { CANARY_PASSWORD, CANARY_USERNAME, credential, hostGuard, launchBrowser, newPage, startPortal } from './support.js';

const RECIPE: LoginRecipe = {
  steps: [
    { fill: '#username', value: '{{username}}' },
    { fill: '#password', value: '{{password}}' },
    { click: '#show-password', optional: true },
    { click: '#sign-in' },
  ],
};

describe('swapping the placeholder in request bodies', () => {
  const placeholder = 'Xy7Kp2Qw9Rt4';

  it('rewrites only the pairs of a form body that hold the placeholder, encoding the real value', () => {
    const body = Buffer.from(`csrf=a%2Bb&username=alice&password=${placeholder}&note=hello+world`, 'latin1');
    const out = swapPlaceholder(body, 'application/x-www-form-urlencoded', placeholder, 'p&ss=w+rd é!')!.toString('latin1');
    expect(out).toBe('csrf=a%2Bb&username=alice&password=p%26ss%3Dw%2Brd+%C3%A9!&note=hello+world');
    expect(new URLSearchParams(out).get('password')).toBe('p&ss=w+rd é!');
  });

  it('rewrites JSON string values, nested or concatenated, and multipart parts', () => {
    const json = swapPlaceholder(Buffer.from(JSON.stringify({ user: { password: placeholder }, otp: `${placeholder}123` })), 'application/json; charset=utf-8', placeholder, 'q"u\\ote')!;
    expect(JSON.parse(json.toString('utf8'))).toEqual({ user: { password: 'q"u\\ote' }, otp: 'q"u\\ote123' });
    const multipart = `--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n${placeholder}\r\n--b--\r\n`;
    expect(swapPlaceholder(Buffer.from(multipart), 'multipart/form-data; boundary=b', placeholder, 'réal')!.toString('utf8')).toContain('\r\n\r\nréal\r\n');
  });

  it('leaves bodies it cannot rewrite safely alone', () => {
    expect(swapPlaceholder(Buffer.from(placeholder), 'text/plain', placeholder, 'x')).toBeUndefined();
    expect(swapPlaceholder(Buffer.from(`{not json ${placeholder}`), 'application/json', placeholder, 'x')).toBeUndefined();
  });

  it('makes placeholders of the password length, digits only for a PIN', () => {
    expect(makePlaceholder('0493')).toMatch(/^[0-9]{4}$/);
    const text = makePlaceholder(CANARY_PASSWORD);
    expect(text).toHaveLength(CANARY_PASSWORD.length);
    expect(text).toMatch(/^[A-Za-z0-9]+$/);
    expect(makePlaceholder('pässwörd')).toHaveLength(8);
  });
});

describe('password injection against page scripts (real Chromium)', () => {
  let browser: Browser;
  let portal: DemoPortal;
  let base: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    ({ portal, url: base } = await startPortal({ totp: false }));
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  async function login(startUrl: string, recipe: LoginRecipe | null, hosts = ['127.0.0.1'], password = CANARY_PASSWORD) {
    return withContext(async (page, context) => {
      const input: LoginInput = { startUrl, recipe, successCheck: { selector: '#balance' }, failureCheck: { selector: '#login-error' }, timeoutMs: 20_000, readCredential: async () => credential({ username: CANARY_USERNAME, password }) };
      return runLogin(page, context, input, hostGuard(hosts, true));
    });
  }

  async function withContext<T>(run: (page: Page, context: BrowserContext) => Promise<T>): Promise<T> {
    const { context, page } = await newPage(browser);
    try {
      return await run(page, context);
    } finally {
      await context.close();
    }
  }

  it('the page script copying the password field and its show-password toggle only ever see the placeholder; the portal gets the real password', async () => {
    const before = portal.observed.length;
    const outcome = await login(`${base}/login-scripted`, RECIPE);
    expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
    await expect.poll(() => portal.observed.length).toBeGreaterThan(before);
    const seen = portal.observed.slice(before).filter((value) => value !== '');
    expect(seen.length).toBeGreaterThan(0);
    for (const value of seen) {
      expect(value).not.toContain(CANARY_PASSWORD);
      expect(value).toHaveLength(CANARY_PASSWORD.length);
    }
  });

  it('the automatic recipe injects the same way on a page that posts JSON with fetch', async () => {
    const before = portal.observed.length;
    const outcome = await login(`${base}/login-json`, null);
    expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
    await expect.poll(() => portal.observed.length).toBeGreaterThan(before);
    expect(portal.observed.slice(before).join('\n')).not.toContain(CANARY_PASSWORD);
  });

  it("with injection 'fill' the page holds the real value (portals that transform it in the page), and the outcome says so", async () => {
    const before = portal.observed.length;
    const outcome = await login(`${base}/login-scripted`, { ...RECIPE, injection: 'fill' });
    expect(outcome).toMatchObject({ ok: true, injection: 'fill' });
    await expect.poll(() => portal.observed.slice(before).some((value) => value === CANARY_PASSWORD)).toBe(true);
  });

  it('swaps only towards the login endpoint: a script posting the field to its own (allowed) origin sends the placeholder', async () => {
    // A real page on another loopback address whose form signs in at the portal, and whose script reports the field home.
    const reported: string[] = [];
    const html = `<!doctype html><form id="login-form" method="post" action="${base}/login"><input id="username" name="username"><input id="password" name="password" type="password"><button id="sign-in">Sign in</button></form>
<script>document.getElementById('password').addEventListener('input', (e) => fetch('/spy', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'leak=' + encodeURIComponent(e.target.value) }));</script>`;
    const server = createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        req.on('end', () => reported.push(body) && res.writeHead(204).end());
      } else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
    try {
      const other = `http://127.0.0.2:${(server.address() as AddressInfo).port}`;
      const outcome = await login(`${other}/custom-login`, RECIPE, ['127.0.0.1', '127.0.0.2']);
      expect(outcome).toMatchObject({ ok: true });
      await expect.poll(() => reported.length).toBeGreaterThan(0);
      for (const leak of reported) {
        expect(leak).not.toContain(encodeURIComponent(CANARY_PASSWORD));
        expect(leak).toMatch(/^leak=[A-Za-z0-9]*$/);
      }
      expect(reported.at(-1)).toHaveLength('leak='.length + CANARY_PASSWORD.length);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends a password with form-special and non-ASCII characters intact', async () => {
    const awkward = 'p&ss=w+rd é!% "q"';
    const special = createDemoPortal({ username: CANARY_USERNAME, password: awkward });
    const url = await special.start(0, '127.0.0.1');
    try {
      expect(await login(`${url}/login`, null, ['127.0.0.1'], awkward)).toMatchObject({ ok: true });
      expect(await login(`${url}/login-json`, null, ['127.0.0.1'], awkward)).toMatchObject({ ok: true });
    } finally {
      await special.stop();
    }
  });
});
