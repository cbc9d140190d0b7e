import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedact, TRANSFORM_MIN_LENGTH, transformedForms, transformedTextPattern } from '../../src/browser/agent/redact.js';
import type { RedactionSource } from '../../src/browser/index.js';
import type { Principal } from '../../src/identity/index.js';
import { createMcpTools, createToolPolicy, type AgentHandle } from '../../src/mcp/index.js';
import { pickOptions } from '../../src/browser/agent/target.js';
import { refOf, useAgentFixture } from './agent-support.js';
import { startSite, type Site } from './support.js';

// A hostile or careless portal prints a secret it holds in a form of its own: reversed, in capitals,
// as base64 (alone or inside a longer blob), base64url, percent-encoded or hex. Each would reach the
// model as readable as the value itself. And a list whose option carries the secret must not answer
// an agent's guesses at it.

/** Base64 of it has `+` and `/` inside every alignment's stable part: base64url differs from base64 there. */
const PW = 'Opal tide/7+Kéy?>>x';
const USER = 'mira';
const source: RedactionSource = { values: () => [Buffer.from(USER), Buffer.from(PW)] };
const options = { redact: source };
const bytes = Buffer.from(PW);
const b64 = (b: Buffer) => b.toString('base64');
const b64url = (b: Buffer) => b.toString('base64url');
/** `PW` between `before` and some bytes after, base64-encoded: a longer blob with the value at another alignment. */
const blob = (before: string, encode = b64) => encode(Buffer.concat([Buffer.from(before), bytes, Buffer.from('};tail')]));
const percentEvery = (b: Buffer, lower = false) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')[lower ? 'toLowerCase' : 'toUpperCase']();
const reversed = [...PW].reverse().join('');

/**
 * Every form the secret could leave in, found without the code under test: each alignment's
 * base64 with a margin cut off both ends (the bytes next to the value change the edge characters).
 */
const FORMS: readonly string[] = [
  PW,
  reversed,
  PW.toUpperCase(),
  PW.toLowerCase(),
  b64(bytes),
  b64url(bytes),
  ...['', 'x', 'xy', 'xyz'].flatMap((before) => [blob(before), blob(before, b64url)]),
  ...[0, 1, 2].flatMap((k) => {
    const aligned = Buffer.concat([Buffer.alloc(k, 0x20), bytes]);
    return [b64(aligned).slice(4, -4), b64url(aligned).slice(4, -4)];
  }),
  encodeURIComponent(PW),
  new URLSearchParams({ v: PW }).toString().slice(2),
  percentEvery(bytes),
  percentEvery(bytes, true),
  bytes.toString('hex'),
  bytes.toString('hex').toUpperCase(),
];

function expectNoForm(text: string): void {
  for (const form of FORMS) expect(text, `form ${JSON.stringify(form)}`).not.toContain(form);
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

describe('transformed forms of a secret (units)', () => {
  it('the needles hold each alignment of base64 and base64url, whatever comes before and after', () => {
    const forms = transformedForms(PW)!;
    expect(forms.reversed).toBe(reversed);
    expect(forms.hex).toBe(bytes.toString('hex'));
    for (let before = 0; before < 6; before++) {
      for (let after = 0; after < 4; after++) {
        const around = Buffer.concat([Buffer.alloc(before, 0xfe), bytes, Buffer.alloc(after, 0x01)]);
        expect(forms.base64.some((n) => b64(around).includes(n)), `base64, ${before} bytes before, ${after} after`).toBe(true);
        expect(forms.base64.some((n) => b64url(around).includes(n)), `base64url, ${before} bytes before, ${after} after`).toBe(true);
      }
    }
    // Three alignments; each stable part is as long as the value's bits allow (no neighbour's bit in it).
    const bits = bytes.length * 8;
    expect(forms.base64.filter((n) => b64(Buffer.concat([Buffer.alloc(1), bytes])).includes(n))).toHaveLength(1);
    for (const n of forms.base64) expect(n.length).toBeGreaterThanOrEqual(Math.floor(bits / 6) - 2);
    expect(forms.base64.every((n) => !n.includes('='))).toBe(true);
  });

  it('only values of at least TRANSFORM_MIN_LENGTH characters get transformed forms; a palindrome has no reversed one', () => {
    expect(TRANSFORM_MIN_LENGTH).toBe(6);
    expect(transformedForms('abcde')).toBeUndefined();
    expect(transformedForms('abcdef')).toMatchObject({ reversed: 'fedcba', hex: '616263646566' });
    expect(transformedForms('abccba')?.reversed).toBeUndefined();
    // Characters, not UTF-16 units or bytes.
    expect(transformedForms('ééééé')).toBeUndefined();
    expect(transformedTextPattern('abcde')).toBeUndefined();
  });

  it('a screenshot masks an element whose text shows the value reversed, as base64 or hex', () => {
    const shown = transformedTextPattern(PW)!;
    for (const text of [reversed, [...reversed].join('\u200b'), b64(bytes), b64url(bytes), blob('xy'), bytes.toString('hex').toUpperCase()]) expect(shown.test(`a ${text} b`), text).toBe(true);
    expect(shown.test(`a ${b64(Buffer.from('another value entirely'))} b`)).toBe(false);
  });

  it('replaces the value in another case, reversed, as base64 (whole run), base64url, percent-encoded and hex', () => {
    const redact = buildRedact(source);
    const cases = [
      reversed,
      PW.toUpperCase(),
      PW.toLowerCase(),
      encodeURIComponent(PW.toUpperCase()),
      encodeURIComponent(reversed),
      new URLSearchParams({ v: PW }).toString().slice(2),
      percentEvery(bytes),
      percentEvery(bytes, true),
      b64(bytes),
      b64url(bytes),
      encodeURIComponent(b64(bytes)),
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
      ...['', 'x', 'xy', 'xyz', '{"password":"'].flatMap((before) => [blob(before), blob(before, b64url), encodeURIComponent(blob(before))]),
    ];
    for (const text of cases) expect(redact(`before ${text} after`), text).toBe('before [REDACTED] after');
    // In a query string the run ends at the parameter's `=` and `&`.
    expect(redact(`/p?token=${blob('xy', b64url)}&next=1`)).toBe('/p?token=[REDACTED]&next=1');
    expect(redact(`data=${blob('x')}`)).toBe('data=[REDACTED]');
    // Ordinary base64 and hex stay.
    const other = b64(Buffer.from('nothing to see here, a different value'));
    expect(redact(`a ${other} b cafe0123`)).toBe(`a ${other} b cafe0123`);
  });

  it('a short value keeps its exact-match rule: no other case, no encoding', () => {
    const redact = buildRedact(source);
    expect(redact(`${USER} x`)).toBe('[REDACTED] x');
    for (const text of [USER.toUpperCase(), [...USER].reverse().join(''), b64(Buffer.from(USER)), Buffer.from(USER).toString('hex')]) expect(redact(`a ${text} b`)).toBe(`a ${text} b`);
  });

  it('patterns kept for a credential are not used once its values changed (wiped)', () => {
    const values = [Buffer.from(PW)];
    const kept: RedactionSource = { values: () => values, compiled: {} };
    expect(buildRedact(kept)(b64(bytes))).toBe('[REDACTED]');
    const entry = kept.compiled!.entry;
    expect(entry).toBeDefined();
    buildRedact(kept);
    expect(kept.compiled!.entry).toBe(entry);
    values[0]!.fill(0x41);
    expect(buildRedact(kept)(b64(bytes))).toBe(b64(bytes));
    expect(buildRedact(kept)('A'.repeat(bytes.length))).toBe('[REDACTED]');
  });

  it('options are picked by what the agent is shown: redacted labels, values only without a secret', () => {
    const redact = buildRedact(source);
    const options = [
      { value: PW, label: 'Main', text: 'Main' },
      { value: 'b', label: PW, text: PW },
      { value: 's', label: 'Savings', text: 'Savings' },
      { value: `x-${b64(bytes)}`, label: 'Other', text: null },
    ];
    const single = { multiple: false, options };
    for (const guess of [PW, PW.toUpperCase(), `x-${b64(bytes)}`, 'x-[REDACTED]']) expect(pickOptions(single, [guess], redact), guess).toBeUndefined();
    expect(pickOptions(single, ['Main'], redact)).toEqual([0]);
    expect(pickOptions(single, ['[REDACTED]'], redact)).toEqual([1]);
    expect(pickOptions(single, ['s', 'Main'], redact)).toEqual([0]);
    expect(pickOptions({ multiple: true, options }, ['s', 'Main', 'Other'], redact)).toEqual([0, 2, 3]);
    // Every value must pick one: a guess next to a real one does not pass.
    expect(pickOptions({ multiple: true, options }, ['Main', PW], redact)).toBeUndefined();
    expect(pickOptions({ multiple: false, options: [{ value: null, label: null, text: null }] }, ['x'], redact)).toBeUndefined();
  });

  it('a megabyte of base64 with the value inside: one pass, every run replaced whole', () => {
    const redact = buildRedact(source);
    const filler = b64(Buffer.alloc(3_000, 7));
    let text = '';
    let hits = 0;
    while (text.length < 1_000_000) {
      text += `${filler} ${blob('xy')}${filler}\n`;
      hits++;
    }
    const started = performance.now();
    const out = redact(text);
    const took = performance.now() - started;
    expect(out.split('[REDACTED]').length - 1).toBe(hits);
    expectNoForm(out);
    // Measured, not asserted (tests never assert timings).
    console.info(`encoded redaction of ${text.length} characters: ${took.toFixed(1)} ms`);
  });
});

describe('transformed forms of a secret on a hostile portal (real Chromium)', () => {
  const fx = useAgentFixture();
  let site: Site;
  const query = `?b=${blob('xy', b64url)}&h=${bytes.toString('hex')}&r=${encodeURIComponent(reversed)}`;

  beforeAll(async () => {
    site = await startSite((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/forms') {
        const e = escapeHtml;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><html><head><title>Hello ${e(PW.toUpperCase())}</title></head><body>` +
            `<p>Reversed: ${e(reversed)}</p><p>Shouted: ${e(PW.toUpperCase())}</p><p>Whispered: ${e(PW.toLowerCase())}</p>` +
            `<p>Base64: ${b64(bytes)}</p><p>Base64url: ${b64url(bytes)}</p><h2>Blobs</h2>` +
            // Runs of eight paragraphs or more would be collapsed in the snapshot: headings break them.
            ['x', 'xy', 'xyz'].map((before) => `<p>Blob ${before.length}: ${blob(before)}</p>`).join('') +
            `<p>Encoded: ${e(encodeURIComponent(PW))}</p><p>Form: ${e(new URLSearchParams({ v: PW }).toString().slice(2))}</p><p>Every byte: ${percentEvery(bytes)}</p><h2>Hex</h2>` +
            `<p>Hex: ${bytes.toString('hex')}</p><p>HEX: ${bytes.toString('hex').toUpperCase()}</p>` +
            `<a href="/forms?t=${encodeURIComponent(blob('x'))}">Token link</a>` +
            `<label for="k">Key</label><input id="k" value="${blob('xyz', b64url)}">` +
            `<img alt="Hex ${bytes.toString('hex').toUpperCase()}" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">` +
            `<button type="button" aria-label="Confirm ${e(reversed)}" onclick="document.title = '${b64(bytes)}'">Go</button>` +
            `<button type="button" onclick="this.textContent = '${b64url(bytes)}'">Show ${e(PW.toUpperCase())}</button>` +
            `</body></html>`,
        );
        return;
      }
      if (path === '/list') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><html><head><title>List</title></head><body>` +
            `<label for="a">Account</label><select id="a"><option value="">Choose</option><option value="${escapeHtml(PW)}">Main</option>` +
            `<option value="b">${escapeHtml(PW)}</option><option value="s">Savings</option></select>` +
            `<p id="chosen">none</p><script>document.getElementById('a').onchange = (e) => { document.getElementById('chosen').textContent = 'index ' + e.target.selectedIndex; };</script>` +
            `</body></html>`,
        );
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  afterAll(async () => {
    await site?.close();
  });

  it('no transformed form reaches a snapshot, element name, title, address or action result', async () => {
    const session = await fx.openOn('agent-encoded-1', ['site.test']);
    const outputs: string[] = [];
    const keep = <T>(value: T): T => {
      outputs.push(JSON.stringify(value, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : v)));
      return value;
    };
    try {
      keep(await session.agent.navigate(site.url('site.test', `/forms${query}`), options));
      const snap = keep(await session.agent.snapshot(options));
      for (const line of ['Reversed: [REDACTED]', 'Shouted: [REDACTED]', 'Whispered: [REDACTED]', 'Base64: [REDACTED]', 'Base64url: [REDACTED]', 'Blob 1: [REDACTED]', 'Blob 2: [REDACTED]', 'Blob 3: [REDACTED]', 'Encoded: [REDACTED]', 'Form: [REDACTED]', 'Every byte: [REDACTED]', 'Hex: [REDACTED]', 'HEX: [REDACTED]']) {
        expect(snap.text).toContain(line);
      }
      expect(snap.page.title).toBe('Hello [REDACTED]');
      expect(snap.page.url).toBe(site.url('site.test', '/forms?b=[REDACTED]&h=[REDACTED]&r=[REDACTED]'));
      expect(snap.text).toContain('/url: /forms?t=[REDACTED]');
      expect(snap.text).toMatch(/textbox "Key" \[ref=\w+\]: \[REDACTED\]/);
      expect(snap.text).toContain('img "Hex [REDACTED]"');
      // Results that name the element: its name is redacted as the snapshot's is.
      const confirm = keep(await session.agent.click(refOf(snap.text, 'button "Confirm [REDACTED]"'), options));
      expect(confirm.target).toBe('button "Confirm [REDACTED]"');
      expect(confirm.page.title).toBe('[REDACTED]');
      const shown = keep(await session.agent.click(refOf(snap.text, 'button "Show [REDACTED]"'), options));
      expect(shown.target).toBe('button "Show [REDACTED]"');
      keep(await session.agent.hover(refOf(snap.text, 'textbox "Key"'), options));
      keep(await session.agent.snapshot({ ...options, maxChars: 500 }));
      keep(await session.agent.waitFor({ text: 'Reversed:' }, 2_000, options));
      // wait_for answers for what the agent is shown, not for a transformed guess.
      for (const guess of [b64(bytes), reversed, PW.toUpperCase(), bytes.toString('hex')]) {
        expect(await session.agent.waitFor({ text: guess }, 300, options).catch((error: unknown) => error)).toMatchObject({ code: 'wait_timed_out' });
      }
      expect(await session.agent.waitFor({ url: `h=${bytes.toString('hex').slice(0, 12)}` }, 300, options).catch((error: unknown) => error)).toMatchObject({ code: 'wait_timed_out' });
      keep(await session.agent.click(refOf(snap.text, 'link "Token link"'), options));
      keep(await session.agent.snapshot(options));
      keep(await session.agent.goBack(options));
      keep(await session.agent.screenshot(options));
    } finally {
      await session.close();
    }
    expect(outputs.length).toBeGreaterThan(10);
    for (const output of outputs) expectNoForm(output);
  });

  it('select_option answers a guess at a secret in an option as it answers any absent option, and the audit keeps no guess', async () => {
    const session = await fx.openOn('agent-encoded-2', ['site.test']);
    const SESSION = '11111111-2222-4333-8444-555555555555';
    const agent: Principal = { kind: 'agent', id: 'a1', name: 'Agent', roles: ['agent'], groups: [], via: 'api_token', mfa: false, tokenId: 't1', scopes: ['mcp'] };
    const recorded: unknown[] = [];
    const answers: string[] = [];
    const handle = { record: { id: SESSION }, redact: source, controls: session.agent, recordTool: () => undefined, takeChoosersDismissed: () => 0 } as unknown as AgentHandle;
    const tools = createMcpTools({
      sessions: { start: () => Promise.reject(new Error('unused')), list: async () => [], end: () => Promise.reject(new Error('unused')), agent: async () => handle },
      access: { visibleAssets: async () => [] },
      trail: { record: async (event: unknown) => void recorded.push(event) } as never,
      policy: createToolPolicy({}),
      rateLimit: { check: async () => undefined },
      logger: { warn: () => undefined, error: () => undefined },
    });
    const select = async (ref: string, values: string[]) => {
      const result = await tools.call(agent, 'select_option', { session: SESSION, ref, values }, {});
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      answers.push(text);
      return text;
    };
    try {
      await session.agent.navigate(site.url('site.test', '/list'), options);
      const snap = await session.agent.snapshot(options);
      answers.push(snap.text);
      expect(snap.text).toContain('option "[REDACTED]"');
      const list = refOf(snap.text, 'combobox "Account"');
      const absent = await select(list, ['Lottery']);
      expect(absent).toContain('has no such option');
      // The value and the label that are the secret, whole, in capitals, by a prefix: each answered as an absent option.
      for (const guess of [PW, PW.toUpperCase(), PW.slice(0, 8), b64(bytes)]) expect(await select(list, [guess])).toBe(absent);
      expect(await select(list, ['Main', PW])).toBe(absent);
      // The page's state did not change for any of them.
      expect((await session.agent.snapshot(options)).text).toContain('none');
      // What the agent is shown picks: a plain label, the option shown as [REDACTED] (a value holding a secret is never
      // compared, so the first option, whose value is the secret, is not picked by it), and a value without a secret.
      expect(await select(list, ['Main'])).toMatch(/^Selected in/);
      expect((await session.agent.snapshot(options)).text).toContain('index 1');
      expect(await select(list, ['[REDACTED]'])).toMatch(/^Selected in/);
      expect((await session.agent.snapshot(options)).text).toContain('index 2');
      expect(await select(list, ['s'])).toMatch(/^Selected in/);
      expect((await session.agent.snapshot(options)).text).toContain('index 3');
    } finally {
      await session.close();
    }
    const audit = JSON.stringify(recorded);
    expect(audit).toContain('Lottery');
    expect(audit).toContain('select_option');
    expectNoForm(audit);
    for (const answer of answers) expectNoForm(answer);
  });
});
