import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedact, redactShortFieldValues } from '../../src/browser/agent/redact.js';
import { compactSnapshot, describeRef, pageOf } from '../../src/browser/agent/snapshot-text.js';
import { createBrowserPool, findChromium, type BrowserEvent, type BrowserPool, type BrowserSession, type RedactionSource } from '../../src/browser/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { LogCapture } from '../support/server.js';
import { refOf } from './agent-support.js';
import { credential } from './login/support.js';
import { html, loopbackLookup, startSite, TEST_LAUNCH_ARGS, type Site } from './support.js';

/** A password with every character that has another form in HTML, URLs and JSON. */
const CANARY = `Canary&<"'>/é?=x+1 pw`;
const SEED = 'CANARYAGENTSEEDQQQQQCANARYAGENTQ';
const USER = 'agent-canary-user';
const source: RedactionSource = { values: () => [Buffer.from(USER), Buffer.from(CANARY), Buffer.from(SEED)] };
const options = { redact: source };
/** Every form the canary could take on its way out. */
const FORMS = [CANARY, encodeURIComponent(CANARY), encodeURI(CANARY), new URLSearchParams({ v: CANARY }).toString().slice(2), CANARY.replace(/&/g, '&amp;').replace(/</g, '&lt;'), JSON.stringify(CANARY).slice(1, -1), SEED, SEED.toLowerCase()];

function expectNoCanary(text: string): void {
  for (const form of FORMS) expect(text).not.toContain(form);
}

describe('agent redaction and snapshot shaping (units)', () => {
  it('replaces a value in its URL, form, HTML and JSON forms, a seed in either case, and the page password values', () => {
    const redact = buildRedact(source, ['typed-by-hand']);
    const text = [CANARY, encodeURIComponent(CANARY), `a=${new URLSearchParams({ v: CANARY }).toString().slice(2)}`, CANARY.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`), JSON.stringify({ p: CANARY }), SEED.toLowerCase(), 'typed-by-hand', 'ordinary words'].join('\n');
    const out = redact(text);
    expectNoCanary(out);
    expect(out).not.toContain('typed-by-hand');
    expect(out).toContain('ordinary words');
    expect(out.match(/\[REDACTED\]/g)!.length).toBeGreaterThanOrEqual(7);
    // A seed as set-up pages show it: grouped, in lower case.
    expect(redact(`seed: ${SEED.toLowerCase().match(/.{4}/g)!.join(' ')} end`)).toBe('seed: [REDACTED] end');
    // Values under four characters are not replaced everywhere, only as a password field's whole value.
    expect(buildRedact({ values: () => [Buffer.from('abc')] })('abc abc')).toBe('abc abc');
    expect(redactShortFieldValues('- textbox "PIN" [ref=e3]: 123\n- text: 123', ['123'])).toBe('- textbox "PIN" [ref=e3]: [REDACTED]\n- text: 123');
  });

  it('collapses runs of same-shaped siblings, describes refs without values, and pages at line ends', () => {
    const rows = Array.from({ length: 40 }, (_, i) => `    - row "Payment ${i}" [ref=e${i + 10}]:\n      - cell "Payment ${i}" [ref=e${i + 100}]`).join('\n');
    const yaml = `- table [ref=e1]:\n  - rowgroup [ref=e2]:\n${rows}\n- link "Next" [ref=e5] [cursor=pointer]:\n  - /url: /next\n- textbox "Amount" [active] [ref=e6]: 12.00`;
    const compact = compactSnapshot(yaml);
    expect(compact).toContain('row "Payment 4"');
    expect(compact).not.toContain('row "Payment 5"');
    expect(compact).toContain('... 35 more row entries like the ones above');
    expect(compact).not.toContain('[cursor=pointer]');
    expect(describeRef(yaml, 'e6')).toBe('textbox "Amount"');
    expect(describeRef(yaml, 'e5')).toBe('link "Next"');
    const first = pageOf(compact, 0, 120);
    expect(first.next).toBeDefined();
    expect(compact[first.next! - 1]).toBe('\n');
    expect(first.text + '\n' + pageOf(compact, first.next!, 100_000).text).toBe(compact);
  });
});

describe('agent redaction on a careless portal (real Chromium)', () => {
  let pool: BrowserPool;
  let portal: DemoPortal;
  let site: Site;
  let base: string;
  const logs = new LogCapture();
  const events: BrowserEvent[] = [];
  const outputs: string[] = [];
  const keep = <T>(value: T): T => {
    outputs.push(JSON.stringify(value, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : v)));
    return value;
  };
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    outputs.push(error instanceof Error ? `${error.message} ${(error as { publicMessage?: string }).publicMessage ?? ''} ${String(error.stack)}` : String(error));
    return error;
  };

  beforeAll(async () => {
    pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: pino({ level: 'debug' }, logs), launchArgs: TEST_LAUNCH_ARGS, lookup: loopbackLookup });
    portal = createDemoPortal({ username: USER, password: CANARY, totpSeed: SEED });
    base = `http://bank.test:${new URL(await portal.start(0, '127.0.0.1')).port}`;
    site = await startSite((_req, res) => html(res, `<table>${Array.from({ length: 60 }, (_, i) => `<tr><td>Payment ${i}</td><td><a href="/p/${i}">open</a></td></tr>`).join('')}</table><p>${'Long text. '.repeat(400)}</p>`));
  });
  afterAll(async () => {
    await pool?.close();
    await portal?.stop();
    await site?.close();
  });

  const open = async (sessionId: string, hosts: string[]): Promise<BrowserSession> =>
    pool.open({ sessionId, allowedHosts: hosts, allowInsecureHttp: true, policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' }, onEvent: (e) => events.push(e) });

  it('the password the page prints in text, attributes, a field and a link never comes out of a snapshot, result, error or screenshot', async () => {
    const session = await open('agent-canary-1', ['bank.test']);
    try {
      const outcome = await session.login({
        startUrl: `${base}/login`,
        recipe: null,
        successCheck: { selector: '#balance' },
        failureCheck: { selector: '#login-error' },
        readCredential: async () => credential({ username: USER, password: CANARY, totpSeed: SEED }),
      });
      expect(outcome).toMatchObject({ ok: true });
      keep(await session.agent.navigate(`${base}/profile`, options));
      const snap = keep(await session.agent.snapshot(options));
      expect(snap.text).toContain('Your password is');
      expect(snap.text).toContain('[REDACTED]');
      expect(snap.text).toMatch(/textbox "Current password \(shown\)"[^\n]*: \[REDACTED\]/);
      keep(await session.agent.waitFor({ text: 'Your password is' }, 5_000, options));
      keep(await session.agent.screenshot(options));
      keep(await session.agent.hover(refOf(snap.text, 'Password on file'), options));
      keep(await session.agent.snapshot({ ...options, maxChars: 500 }));
      await failure(session.agent.waitFor({ text: 'Not here at all' }, 300, options));
      await failure(session.agent.type(refOf(snap.text, 'link "Back to accounts"'), 'x', options));
      await failure(session.agent.click('e424242', options));
      // The link carries the password in its query string: the page's URL after the click is redacted.
      const clicked = keep(await session.agent.click(refOf(snap.text, 'link "Back to accounts"'), options));
      expect(clicked.effect).toBe('navigated');
      expect(clicked.page.url).toContain('/accounts?hint=[REDACTED]');
      keep(await session.agent.goBack(options));
      keep(await session.agent.snapshot(options));
    } finally {
      await session.close();
    }
    expect(outputs.length).toBeGreaterThan(10);
    expectNoCanary(outputs.join('\n'));
    expectNoCanary(logs.text());
    expectNoCanary(JSON.stringify(events));
  });

  it('a long page: repetition collapsed, the rest behind a cursor that continues where the text was cut', async () => {
    const session = await open('agent-canary-2', ['site.test']);
    try {
      await session.agent.navigate(site.url('site.test', '/'), options);
      const first = await session.agent.snapshot({ ...options, maxChars: 1_000 });
      expect(first.text).toContain('Payment 4');
      expect(first.text).not.toContain('Payment 5"');
      expect(first.text).toMatch(/\.\.\. 55 more row entries/);
      expect(first.text.length).toBeLessThanOrEqual(1_000);
      expect(first.cursor).toBeDefined();
      let all = first.text;
      let cursor = first.cursor;
      for (let i = 0; cursor && i < 20; i++) {
        const next = await session.agent.snapshot({ ...options, cursor, maxChars: 1_000 });
        all += `\n${next.text}`;
        cursor = next.cursor;
      }
      expect(cursor).toBeUndefined();
      expect(all).toContain('Long text.');
      await expect(session.agent.snapshot({ ...options, cursor: 's999.10' })).rejects.toMatchObject({ code: 'invalid_request' });
      // The default cap keeps a result near 8000 characters.
      expect((await session.agent.snapshot(options)).text.length).toBeLessThanOrEqual(8_000);
    } finally {
      await session.close();
    }
  });
});
