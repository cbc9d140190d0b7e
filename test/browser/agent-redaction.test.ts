import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedact, redactShortFieldValues, shownTextPattern } from '../../src/browser/agent/redact.js';
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
  // What a reader sees once invisible characters and white space (as the demo portal laces them) are gone.
  const seen = text.replace(/&#8203;|&#x2060;|&shy;|&zwj;|%E2%80%8B|\\u200[bcd]|[\u00ad\u200b-\u200d\u2060\ufeff\s]/gi, '');
  for (const form of [CANARY, JSON.stringify(CANARY).slice(1, -1)]) expect(seen).not.toContain(form.replace(/\s/g, ''));
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

  it('a value with invisible characters or white space between its letters, in any of their forms, is replaced whole', () => {
    const redact = buildRedact(source, ['mcp-Typed-Pw-42']);
    const laced = (value: string, between: readonly string[]) => [...value].map((c, i) => c + (i < [...value].length - 1 ? between[i % between.length]! : '')).join('');
    const raw = ['\u200b', '\u200c', '\u200d', '\u2060', '\u00ad', '\ufeff', '\u200b\u00ad\u2060'];
    const references = ['&#8203;', '&#x200B;', '&#x200b', '&shy;', '&shy', '&zwj;', '&zwnj;', '&ZeroWidthSpace;', '&NoBreak;', '&#173;', '&#65279;', '&#x2060;'];
    const percent = ['%E2%80%8B', '%e2%80%8c', '%C2%AD', '%EF%BB%BF', '%E2%81%A0'];
    const cases = [
      laced(CANARY, raw),
      laced('mcp-Typed-Pw-42', raw),
      laced(CANARY, references),
      laced('mcp-Typed-Pw-42', references),
      encodeURIComponent(laced(CANARY, ['\u200b', '\u00ad'])),
      laced('mcp-Typed-Pw-42', percent),
      JSON.stringify(laced(CANARY, ['\u200b'])).slice(1, -1).replace(/\u200b/g, '\\u200b'),
      // Spaces between the letters (a model reads them as the word; the snapshot turns U+FEFF into one).
      [...'mcp-Typed-Pw-42'].join(' '),
      [...'mcp-Typed-Pw-42'].join('&nbsp;'),
      [...'mcp-Typed-Pw-42'].join(' \u200b '),
      // Unicode tag characters, invisible.
      laced('mcp-Typed-Pw-42', ['\u{E0041}', '\u{E0020}']),
      laced(SEED.toLowerCase(), ['\u200b', '&#8203;']),
      SEED.match(/.{4}/g)!.join(' - '),
    ];
    for (const text of cases) expect(redact(`before ${text} after`), text).toBe('before [REDACTED] after');
    // The value's own space: any run, or a form-encoded `+`.
    expect(redact(`v=${new URLSearchParams({ v: CANARY }).toString().slice(2)}&n=1`)).toBe('v=[REDACTED]&n=1');
    expect(redact(CANARY.replace(' ', ' \u200b\n '))).toBe('[REDACTED]');
    // Ordinary text and the gaps themselves stay.
    expect(redact('a\u200bb c&#8203;d mcp-Typed')).toBe('a\u200bb c&#8203;d mcp-Typed');
    // The screenshot's masks find the rendered text the same way (decoded: the characters as they are).
    const shown = shownTextPattern('mcp-Typed-Pw-42')!;
    for (const text of [laced('mcp-Typed-Pw-42', raw), [...'MCP-typed-pw-42'].join(' '), laced('mcp-Typed-Pw-42', ['\u{E0041}'])]) expect(shown.test(`x ${text} y`), text).toBe(true);
    expect(shown.test('mcp-Typed Pw 4')).toBe(false);
    expect(shownTextPattern('a b c')).toBeUndefined();
  });

  it('a value that holds what looks like a run (`%20`, `&nbsp;`) or is mostly spaces is still found as it is', () => {
    const odd = buildRedact({ values: () => [Buffer.from('50%20off&nbsp;x'), Buffer.from('a b c')] });
    expect(odd('is 50%20off&nbsp;x now')).toBe('is [REDACTED] now');
    expect(odd('is a b c now')).toBe('is [REDACTED] now');
    // Fewer than four visible characters: not widened to its letters with runs between.
    expect(odd('abc and a  b c')).toBe('abc and a  b c');
  });

  it('a megabyte of text full of runs and near misses: replaced in one pass, no catastrophic backtracking', () => {
    const redact = buildRedact(source, ['mcp-Typed-Pw-42']);
    const nearMiss = ['mcp-Typ', '\u200b'.repeat(2_000), 'x ', 'm c p - T y p e d', ' '.repeat(3_000), 'Q', '&#8203;'.repeat(500), '%E2%80%8B'.repeat(500), 'C\u200ba\u200bn\u200ba\u200br\u200by&#8203;& < Z'].join('');
    const hit = [...'mcp-Typed-Pw-42'].join('\u200b');
    let text = '';
    while (text.length < 1_000_000) text += `${nearMiss} ${hit} `;
    const started = performance.now();
    const out = redact(text);
    const took = performance.now() - started;
    expect(out).not.toContain(hit);
    expect(out.split('[REDACTED]').length - 1).toBe(text.split(hit).length - 1);
    // Measured, not asserted (tests never assert timings): about 20 ms here.
    console.info(`redaction of ${text.length} characters: ${took.toFixed(1)} ms`);
  });

  it('gives an unnamed wrapper’s place to its children, and keeps what a tool or a reader needs', () => {
    const yaml = [
      '- generic [active] [ref=e1]:',
      '  - banner [ref=e2]:',
      '    - link "Demo Bank" [ref=e3] [cursor=pointer]:',
      '      - /url: /',
      '  - main [ref=e4]:',
      '    - heading "Accounts" [level=1] [ref=e5]',
      '    - paragraph [ref=e6]:',
      '      - text: Signed in as',
      '      - strong [ref=e7]: alice',
      '    - generic [ref=e8]',
      '    - table [ref=e9]:',
      '      - rowgroup [ref=e10]:',
      '        - row [ref=e11]:',
      '          - cell "€12,345.67" [ref=e12]',
      '        - row "Open" [ref=e13]',
      '    - paragraph [ref=e23]:',
      '      - link "Make a transfer" [ref=e24] [cursor=pointer]',
      '    - paragraph [ref=e14]: Arrived later',
      '    - generic [ref=e15] [cursor=pointer]: Menu',
      '    - generic [ref=e16] [cursor=pointer]:',
      '      - img [ref=e17]',
      '    - group [disabled] [ref=e18]:',
      '      - textbox "Amount" [disabled] [ref=e19]',
      '    - region "Payments" [ref=e20]:',
      '      - list [ref=e21]:',
      '        - listitem [ref=e22]: First',
    ].join('\n');
    expect(compactSnapshot(yaml)).toBe(
      [
        '- link "Demo Bank" [ref=e3]:',
        '  - /url: /',
        '- heading "Accounts" [level=1] [ref=e5]',
        '- paragraph:',
        '  - text: Signed in as',
        '  - strong [ref=e7]: alice',
        '- table:',
        '  - row:',
        '    - cell "€12,345.67" [ref=e12]',
        '  - row "Open" [ref=e13]',
        '- link "Make a transfer" [ref=e24]',
        '- paragraph [ref=e14]: Arrived later',
        '- generic [ref=e15]: Menu',
        '- generic [ref=e16]:',
        '  - img [ref=e17]',
        '- group [disabled] [ref=e18]:',
        '  - textbox "Amount" [disabled] [ref=e19]',
        '- region "Payments" [ref=e20]:',
        '  - list:',
        '    - listitem [ref=e22]: First',
      ].join('\n'),
    );
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
      // The tricks: invisible characters or spaces between the letters, two inline halves, a link with %E2%80%8B.
      expect(snap.text).toContain('Spelled with invisible characters: [REDACTED].');
      expect(snap.text).toContain('Spelled out: [REDACTED].');
      expect(snap.text).toContain('In two halves: [REDACTED].');
      expect(snap.text).toContain('/url: /accounts?zw=[REDACTED]');
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
