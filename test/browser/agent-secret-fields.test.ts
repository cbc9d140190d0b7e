import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_PASSWORD, options, refOf, useAgentFixture } from './agent-support.js';
import { html, startSite, type Site } from './support.js';

// A field a credential was typed into stays a secret field, whatever the agent or the page does to it next:
// the agent cannot read a secret back by cutting it short, by showing it as text, or by asking wait_for.
describe('agent controls: the fields a credential was typed into', () => {
  const fx = useAgentFixture();
  let site: Site;
  /** A one-time code, as fill_credential computes it from the seed: not among the vault values the redaction knows. */
  const CODE = '739204';

  beforeAll(async () => {
    site = await startSite((req, res) => {
      if (req.url === '/secret-fields') {
        return html(
          res,
          `<form action="/ok" method="post"><label for="u">User</label><input id="u" name="u">` +
            `<label for="c">Code</label><input id="c" name="c" autocomplete="off">` +
            `<label for="p">Password</label><input id="p" name="p" type="password">` +
            `<button type="button" onclick="const p = document.getElementById('p'); p.type = p.type === 'password' ? 'text' : 'password'">Show password</button></form>`,
        );
      }
      if (req.url === '/careless') {
        return html(res, `<p>Your password is ${CANARY_PASSWORD}</p><p>Your code is ${CODE}</p>`);
      }
      html(res, '<p>Site</p>');
    });
  });
  afterAll(async () => {
    await site?.close();
  });

  const siteSession = (sessionId: string) => fx.openOn(sessionId, ['site.test']);
  /** The value a snapshot shows for the textbox `label` (YAML quotes a number), or undefined when it shows none. */
  const valueOf = (text: string, label: string) => new RegExp(`textbox "${label}"[^\\n]*?(?:: (.*))?$`, 'm').exec(text)?.[1]?.replace(/^"(.*)"$/, '$1');

  it('refuses the password for a field that is not a password field, and fills nothing', async () => {
    const session = await siteSession('agent-secret-1');
    try {
      await session.agent.navigate(site.url('site.test', '/secret-fields'), options);
      const form = await session.agent.snapshot(options);
      const refused = await session.agent
        .fillCredential(refOf(form.text, 'textbox "User"'), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' })
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'invalid_request' });
      expect(valueOf((await session.agent.snapshot({ redact: { values: () => [] } })).text, 'User')).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it('keeps a one-time code in a text field secret: cut short with Backspace or Delete, it is still [REDACTED]', async () => {
    const session = await siteSession('agent-secret-2');
    try {
      await session.agent.navigate(site.url('site.test', '/secret-fields'), options);
      const form = await session.agent.snapshot(options);
      const code = refOf(form.text, 'textbox "Code"');
      const filled = await session.agent.fillCredential(code, Buffer.from(CODE), { ...options, secret: 'totp' });
      expect(filled).toMatchObject({ target: 'textbox "Code"', field: 'text' });
      const seen: string[] = [JSON.stringify(filled)];
      const look = async () => {
        const snap = await session.agent.snapshot(options);
        seen.push(snap.text);
        return valueOf(snap.text, 'Code');
      };
      expect(await look()).toBe('[REDACTED]');
      await session.agent.pressKey('End', options);
      seen.push(JSON.stringify(await session.agent.pressKey('Backspace', options)));
      expect(await look()).toBe('[REDACTED]');
      await session.agent.pressKey('Home', options);
      seen.push(JSON.stringify(await session.agent.pressKey('Delete', options)));
      expect(await look()).toBe('[REDACTED]');
      // Down to one character: still the field's secret, not shown.
      for (let i = 0; i < 3; i++) await session.agent.pressKey('Delete', options);
      expect(await look()).toBe('[REDACTED]');
      seen.push(JSON.stringify(await session.agent.screenshot(options).then((s) => ({ ...s, jpeg: s.jpeg.length }))));
      for (const part of [CODE, CODE.slice(0, 5), CODE.slice(1)]) expect(seen.join('\n')).not.toContain(part);
    } finally {
      await session.close();
    }
  });

  it('keeps a filled password secret after the page shows it as text and the agent cuts it short', async () => {
    const session = await siteSession('agent-secret-3');
    try {
      await session.agent.navigate(site.url('site.test', '/secret-fields'), options);
      const form = await session.agent.snapshot(options);
      await session.agent.fillCredential(refOf(form.text, 'textbox "Password"'), Buffer.from(CANARY_PASSWORD), { ...options, secret: 'password' });
      await session.agent.click(refOf(form.text, 'button "Show password"'), options);
      await session.agent.click(refOf(form.text, 'textbox "Password"'), options);
      await session.agent.pressKey('End', options);
      await session.agent.pressKey('Backspace', options);
      // Without the vault's values too: the field's own value is what the redaction goes by.
      const snap = await session.agent.snapshot({ redact: { values: () => [] } });
      expect(valueOf(snap.text, 'Password')).toBe('[REDACTED]');
      expect(snap.text).not.toContain(CANARY_PASSWORD.slice(0, 8));
    } finally {
      await session.close();
    }
  });

  it('wait_for does not answer for text or an address that only a secret makes match', async () => {
    const session = await siteSession('agent-secret-4');
    try {
      await session.agent.navigate(site.url('site.test', '/careless'), options);
      const snap = await session.agent.snapshot(options);
      expect(snap.text).toContain('Your password is [REDACTED]');
      // What the agent can see is waited for; a guess at the secret's first letters is not confirmed.
      await expect(session.agent.waitFor({ text: 'Your password is' }, 500, options)).resolves.toMatchObject({ effect: 'none' });
      const guess = await session.agent.waitFor({ text: `is ${CANARY_PASSWORD.slice(0, 6)}` }, 300, options).catch((error: unknown) => error);
      expect(guess).toMatchObject({ code: 'wait_timed_out' });
      const wrong = await session.agent.waitFor({ text: 'is zzz' }, 300, options).catch((error: unknown) => error);
      expect(wrong).toMatchObject({ code: 'wait_timed_out' });
      await session.agent.navigate(`${site.url('site.test', '/careless')}?k=${encodeURIComponent(CANARY_PASSWORD)}`, options);
      await expect(session.agent.waitFor({ url: '/careless?k=' }, 500, options)).resolves.toMatchObject({ effect: 'none' });
      const urlGuess = await session.agent.waitFor({ url: `k=${CANARY_PASSWORD.slice(0, 6)}` }, 300, options).catch((error: unknown) => error);
      expect(urlGuess).toMatchObject({ code: 'wait_timed_out' });
      const globGuess = await session.agent.waitFor({ url: `**/careless?k=${CANARY_PASSWORD.slice(0, 6)}*` }, 300, options).catch((error: unknown) => error);
      expect(globGuess).toMatchObject({ code: 'wait_timed_out' });
      await expect(session.agent.waitFor({ url: '**/careless?k=*' }, 500, options)).resolves.toMatchObject({ effect: 'none' });
    } finally {
      await session.close();
    }
  });
});
