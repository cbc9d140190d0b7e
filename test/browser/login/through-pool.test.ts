import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserEvent, type BrowserPool, type ContextSpec } from '../../../src/browser/index.js';
import type { DemoPortal } from '../../../src/demo-portal/index.js';
import { LogCapture } from '../../support/server.js';
import { loopbackLookup, TEST_LAUNCH_ARGS, waitUntil } from '../support.js';
import { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME, credential, startPortal } from './support.js';

// The runner as sessions will use it: through the pool's BrowserSession, behind the navigation lock.
describe('login through the browser pool (real Chromium)', () => {
  let pool: BrowserPool;
  let portal: DemoPortal;
  let port: string;
  const logs = new LogCapture();
  const events: BrowserEvent[] = [];

  beforeAll(async () => {
    pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: pino({ level: 'debug' }, logs), launchArgs: TEST_LAUNCH_ARGS, lookup: loopbackLookup });
    let url: string;
    ({ portal, url } = await startPortal());
    port = new URL(url).port;
  });
  afterAll(async () => {
    await pool?.close();
    await portal?.stop();
  });

  const spec = (sessionId: string): ContextSpec => ({
    sessionId,
    allowedHosts: ['bank.test'],
    allowInsecureHttp: true,
    policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' },
    onEvent: (event) => events.push(event),
  });

  it('signs in with the automatic recipe and the intercepted password; the page script, logs and events never hold a secret', async () => {
    const before = portal.observed.length;
    const session = await pool.open(spec('login-pool-1'));
    try {
      const secret = credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED });
      const outcome = await session.login({
        startUrl: `http://bank.test:${port}/login-scripted`,
        recipe: null,
        successCheck: { selector: '#balance' },
        failureCheck: { selector: '#login-error' },
        readCredential: async () => secret,
      });
      expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
      expect(secret.disposed).toBe(true);
      expect(session.tabs()[0]!.url).toBe(`http://bank.test:${port}/accounts`);
    } finally {
      await session.close();
    }
    expect(portal.observed.length).toBeGreaterThan(before);
    const everything = [JSON.stringify(events), logs.text(), ...portal.observed.slice(before)].join('\n');
    expect(everything).not.toContain(CANARY_PASSWORD);
    expect(everything).not.toContain(CANARY_SEED);
  });

  it('the TOTP and two-page variants through the pool; a wrong password is a refused login naming the check step', async () => {
    const run = async (path: string, password = CANARY_PASSWORD) => {
      const session = await pool.open(spec(`login-pool-${path}`));
      try {
        return await session.login({
          startUrl: `http://bank.test:${port}${path}`,
          recipe: null,
          successCheck: null,
          failureCheck: null,
          readCredential: async () => credential({ username: CANARY_USERNAME, password, totpSeed: CANARY_SEED }),
        });
      } finally {
        await session.close();
      }
    };
    expect(await run('/login-totp')).toMatchObject({ ok: true });
    expect(await run('/login-two-page')).toMatchObject({ ok: true });
    const wrong = await run('/login', 'canary-wrong-pool-55');
    expect(wrong).toMatchObject({ ok: false });
    expect((wrong as { step: string }).step).toMatch(/check the result$/);
    expect(JSON.stringify(wrong) + logs.text()).not.toContain('canary-wrong-pool-55');
  });

  it('stops a login at once when the session closes or its signal aborts: a failed outcome, the credential disposed, none read after', async () => {
    const session = await pool.open(spec('login-pool-cancel'));
    const secret = credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED });
    const login = session.login({
      startUrl: `http://bank.test:${port}/login`,
      recipe: null,
      // Never shown: the runner signs in, then polls until its deadline, set far past the test's
      // own timeout, so a login that the close does not stop fails the test by hanging.
      successCheck: { selector: '#never-shown' },
      failureCheck: null,
      readCredential: async () => secret,
      timeoutMs: 30 * 60_000,
    });
    await waitUntil(() => secret.reads > 0 && session.tabs()[0]?.url.endsWith('/accounts'), 15_000, () => JSON.stringify(session.tabs()));
    await session.close();
    const outcome = await login;
    expect(outcome).toMatchObject({ ok: false, message: 'the session ended during the login' });
    expect(secret.disposed).toBe(true);

    // A signal that aborted before the runner began: the credential is never asked for.
    const second = await pool.open(spec('login-pool-cancel-2'));
    let asked = 0;
    try {
      const outcome2 = await second.login({
        startUrl: `http://bank.test:${port}/login`,
        recipe: null,
        successCheck: null,
        failureCheck: null,
        readCredential: async () => {
          asked++;
          return credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
        },
        signal: AbortSignal.abort(),
      });
      expect(outcome2).toMatchObject({ ok: false, step: '0: read the credential', message: 'the session ended during the login' });
      expect(asked).toBe(0);
    } finally {
      await second.close();
    }
  });
});
