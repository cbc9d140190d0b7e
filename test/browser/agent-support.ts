import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createBrowserPool, findChromium, type BrowserEvent, type BrowserPool, type BrowserSession, type RedactionSource } from '../../src/browser/index.js';
import type { DemoPortal } from '../../src/demo-portal/index.js';
import { LogCapture } from '../support/server.js';
import { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME, credential, startPortal } from './login/support.js';
import { loopbackLookup, TEST_LAUNCH_ARGS } from './support.js';

export { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME };

/** The credential's values, as the sessions module hands them to the agent controls. */
export const redactCanary: RedactionSource = { values: () => [Buffer.from(CANARY_USERNAME), Buffer.from(CANARY_PASSWORD), Buffer.from(CANARY_SEED)] };
export const options = { redact: redactCanary };

export interface AgentFixture {
  pool: BrowserPool;
  portal: DemoPortal;
  /** `http://bank.test:<port>` */
  base: string;
  logs: LogCapture;
  events: BrowserEvent[];
  /** A new session on bank.test, logged in to the demo portal's accounts page. */
  loggedIn(sessionId: string): Promise<BrowserSession>;
  /** A new session, not logged in anywhere, that may open `allowedHosts` over plain http (a test site's). */
  openOn(sessionId: string, allowedHosts: string[]): Promise<BrowserSession>;
}

/** One pool (its logs captured) and one demo portal per test file, as bank.test. */
export function useAgentFixture(): AgentFixture {
  const fixture = { logs: new LogCapture(), events: [] as BrowserEvent[] } as AgentFixture;
  beforeAll(async () => {
    fixture.pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: pino({ level: 'debug' }, fixture.logs), launchArgs: TEST_LAUNCH_ARGS, lookup: loopbackLookup });
    const started = await startPortal();
    fixture.portal = started.portal;
    fixture.base = `http://bank.test:${new URL(started.url).port}`;
    fixture.openOn = (sessionId, allowedHosts) =>
      fixture.pool.open({
        sessionId,
        allowedHosts,
        allowInsecureHttp: true,
        policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' },
        onEvent: (event) => fixture.events.push(event),
      });
    fixture.loggedIn = async (sessionId) => {
      const session = await fixture.openOn(sessionId, ['bank.test']);
      const outcome = await session.login({
        startUrl: `${fixture.base}/login`,
        recipe: null,
        successCheck: { selector: '#balance' },
        failureCheck: { selector: '#login-error' },
        readCredential: async () => credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED }),
      });
      if (!outcome.ok) throw new Error(`login failed: ${outcome.step}`);
      return session;
    };
  });
  afterAll(async () => {
    await fixture.pool?.close();
    await fixture.portal?.stop();
  });
  return fixture;
}

/** The line of `text` that holds `needle`, and the ref on it. */
export function refOf(text: string, needle: string | RegExp): string {
  const line = text.split('\n').find((l) => (typeof needle === 'string' ? l.includes(needle) : needle.test(l)));
  const ref = line ? /\[ref=([a-z0-9]+)\]/.exec(line)?.[1] : undefined;
  if (!ref) throw new Error(`no ref for ${String(needle)} in:\n${text}`);
  return ref;
}
