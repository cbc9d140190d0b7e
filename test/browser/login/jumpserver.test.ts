import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importJumpServerAutofill } from '../../../src/browser/login/jumpserver.js';
import { runLogin } from '../../../src/browser/login/run-login.js';
import { AppError, type LoginRecipe } from '../../../src/core/index.js';
import type { DemoPortal } from '../../../src/demo-portal/index.js';
import { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME, credential, hostGuard, launchBrowser, newPage, startPortal } from './support.js';

function importError(input: unknown): AppError {
  try {
    importJumpServerAutofill(input);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the import to fail');
}

describe('importJumpServerAutofill', () => {
  it('converts a script in step order: locators, placeholders, frames in and out, open, sleep and code', () => {
    const { recipe, warnings } = importJumpServerAutofill({
      autofill: 'script',
      script: [
        { step: 5, command: 'click', target: 'css=#sign-in', value: '' },
        { step: 1, command: 'open', target: 'id=anything', value: 'https://portal.example.com/login' },
        { step: 2, command: 'select_frame', target: 'id=login-frame', value: '' },
        { step: 3, command: 'type', target: 'name=username', value: '{USERNAME}' },
        { step: 4, command: 'type', target: 'xpath=//input[@type="password"]', value: '{SECRET}' },
        { step: 6, command: 'select_frame', target: 'index=-1', value: '' },
        { step: 7, command: 'sleep', target: '2', value: '' },
        { step: 8, command: 'code', target: 'class_name=otp', value: '' },
        { step: 9, command: 'button', target: 'ID=verify', value: '' },
      ],
    });
    expect(recipe).toEqual({
      steps: [
        { goto: 'https://portal.example.com/login' },
        {
          frame: ':is(iframe, frame)[id="login-frame"]',
          steps: [{ fill: '[name="username"]', value: '{{username}}' }, { fill: 'xpath=//input[@type="password"]', value: '{{password}}' }, { click: 'css=#sign-in' }],
        },
        { fill: '[class~="otp"]', value: '{{totp}}' },
        { click: '[id="verify"]' },
      ],
    } satisfies LoginRecipe);
    expect(warnings.join('\n')).toMatch(/step 7 \(sleep\): dropped/);
    expect(warnings.join('\n')).toMatch(/step 8 \(code\).*\{\{totp\}\}/);
  });

  it('converts basic autofill, a bare script list, nested frames and frames by index or bare name', () => {
    expect(importJumpServerAutofill({ autofill: 'basic', username_selector: 'id=user', password_selector: 'name=pass', submit_selector: 'css=button.primary' }).recipe).toEqual({
      steps: [{ fill: '[id="user"]', value: '{{username}}' }, { fill: '[name="pass"]', value: '{{password}}' }, { click: 'css=button.primary' }],
    });
    const nested = importJumpServerAutofill([
      { step: 1, command: 'select_frame', target: 'index=0' },
      { step: 2, command: 'select_frame', target: 'main"frame' },
      { step: 3, command: 'click', target: 'id=go' },
    ]).recipe!;
    expect(nested.steps).toEqual([{ frame: ':is(iframe, frame) >> nth=0', steps: [{ frame: ':is(iframe, frame):is([id="main\\"frame"], [name="main\\"frame"])', steps: [{ click: '[id="go"]' }] }] }]);
  });

  it('keeps JumpServer quirks: empty targets skipped, an unknown locator read as name, autofill off means the automatic recipe', () => {
    const { recipe, warnings } = importJumpServerAutofill([
      { step: 1, command: 'type', target: '', value: '{USERNAME}' },
      { step: 2, command: 'type', target: 'label=Password', value: '{SECRET}' },
    ]);
    expect(recipe).toEqual({ steps: [{ fill: '[name="Password"]', value: '{{password}}' }] });
    expect(warnings).toHaveLength(2);
    expect(importJumpServerAutofill({ autofill: 'no' }).recipe).toBeNull();
  });

  it('warns about fixed text typed by the script without quoting it', () => {
    const { warnings } = importJumpServerAutofill([{ step: 1, command: 'type', target: 'id=pin', value: 'canary-literal-4471' }]);
    expect(warnings.join('\n')).toMatch(/step 1 \(type\): types fixed text/);
    expect(warnings.join('\n')).not.toContain('canary-literal-4471');
  });

  it('refuses what it cannot import, naming the step and never the value', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[{ step: 1, command: 'type', target: 'no-equals-sign', value: 'canary-v1' }], /step 1 \(type\): the target must be by=value/],
      [[{ step: 2, command: 'hover', target: 'id=x', value: 'canary-v1' }], /step 2 \(hover\): unknown command/],
      [[{ step: 3, command: 'open', target: 'id=x', value: 'https://p.example/?u={USERNAME}&canary-v1' }], /step 3 \(open\): a credential in a URL/],
      [[{ step: 4, command: 'open', target: 'id=x', value: 'javascript:alert(1)' }], /step 4 \(open\): the value must be an http\(s\) URL/],
      [[{ step: 5, command: 'type', target: 'id=x', value: '{{canary-v1}}' }], /step 5 \(type\): the value contains/],
      [[{ step: 6, command: 'select_frame', target: 'index=first' }], /step 6 \(select_frame\): index= needs a whole number/],
      [[{ step: 1, command: 'sleep', target: '1' }], /no step to import/],
      [{ autofill: 'script', script: 'canary-v1' }, /malformed/],
    ];
    for (const [input, message] of cases) {
      const error = importError(input);
      expect(error.code).toBe('invalid_request');
      expect(error.publicMessage).toMatch(message);
      expect(JSON.stringify({ message: error.publicMessage, data: error.data, detail: error.detail })).not.toContain('canary-v1');
    }
  });
});

describe('imported JumpServer scripts sign in to the demo portal (real Chromium)', () => {
  let browser: Browser;
  let portal: DemoPortal;
  let base: string;
  beforeAll(async () => {
    browser = await launchBrowser();
    ({ portal, url: base } = await startPortal());
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  async function login(path: string, recipe: LoginRecipe) {
    const { context, page } = await newPage(browser);
    try {
      return await runLogin(
        page,
        context,
        { startUrl: `${base}${path}`, recipe, successCheck: { selector: '#balance' }, failureCheck: { selector: '#login-error' }, timeoutMs: 20_000, readCredential: async () => credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED }) },
        hostGuard(['127.0.0.1'], true),
      );
    } finally {
      await context.close();
    }
  }

  it('the iframe variant, through select_frame', async () => {
    const { recipe } = importJumpServerAutofill([
      { step: 1, command: 'select_frame', target: 'id=login-frame', value: '' },
      { step: 2, command: 'type', target: 'id=username', value: '{USERNAME}' },
      { step: 3, command: 'type', target: 'name=password', value: '{SECRET}' },
      { step: 4, command: 'click', target: 'css=#sign-in', value: '' },
    ]);
    expect(await login('/login-iframe', recipe!)).toMatchObject({ ok: true, injection: 'intercept' });
  });

  it('the TOTP variant, its code step filled from the seed', async () => {
    const { recipe } = importJumpServerAutofill([
      { step: 1, command: 'type', target: 'id=username', value: '{USERNAME}' },
      { step: 2, command: 'type', target: 'id=password', value: '{SECRET}' },
      { step: 3, command: 'click', target: 'xpath=//button[@id="sign-in"]', value: '' },
      { step: 4, command: 'sleep', target: '1', value: '' },
      { step: 5, command: 'code', target: 'name=code', value: '' },
      { step: 6, command: 'click', target: 'id=verify', value: '' },
    ]);
    expect(await login('/login-totp', recipe!)).toMatchObject({ ok: true });
  });
});
