import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { options, refOf, useAgentFixture } from './agent-support.js';

// The agent controls (src/browser/agent) on the demo portal, behind the navigation lock, real Chromium.
describe('agent controls: snapshot, click, type (real Chromium)', () => {
  const fx = useAgentFixture();

  it('a snapshot of the logged-in accounts page shows the balance and refs; a click on a link by ref navigates', async () => {
    const session = await fx.loggedIn('agent-basic-1');
    try {
      const snap = await session.agent.snapshot(options);
      expect(snap.page.url).toBe(`${fx.base}/accounts`);
      expect(snap.page.title).toContain('Accounts');
      expect(snap.tabs).toBe(1);
      expect(snap.text).toContain('€12,345.67');
      expect(snap.text).toMatch(/link "Make a transfer" \[ref=[a-z0-9]+\]/);
      expect(snap.cursor).toBeUndefined();

      const clicked = await session.agent.click(refOf(snap.text, 'link "Make a transfer"'), options);
      expect(clicked).toMatchObject({ effect: 'navigated', target: 'link "Make a transfer"', page: { url: `${fx.base}/transfer` } });
    } finally {
      await session.close();
    }
  });

  it('types into the transfer form and submits it; the result page shows the transfer', async () => {
    const session = await fx.loggedIn('agent-basic-2');
    try {
      await session.agent.navigate(`${fx.base}/transfer`, options);
      const form = await session.agent.snapshot(options);
      const to = await session.agent.type(refOf(form.text, 'textbox "To (IBAN)"'), 'DE89370400440532013000', options);
      expect(to).toMatchObject({ target: 'textbox "To (IBAN)"', field: 'text' });
      const sent = await session.agent.type(refOf(form.text, 'textbox "Amount (EUR)"'), '1.00', { ...options, submit: true });
      expect(sent.effect).toBe('navigated');
      const after = await session.agent.snapshot(options);
      expect(after.text).toContain('Sent €1.00 to DE89370400440532013000.');
      expect(after.text).toContain('€12,344.67');
    } finally {
      await session.close();
    }
  });

  it('a ref from an older snapshot, or one that never existed, is invalid_request with a clear message', async () => {
    const session = await fx.loggedIn('agent-basic-3');
    try {
      const first = await session.agent.snapshot(options);
      const link = refOf(first.text, 'link "Make a transfer"');
      await session.agent.click(link, options);
      await session.agent.snapshot(options);
      const stale = await session.agent.click(link, options).catch((error: unknown) => error);
      expect(stale).toBeInstanceOf(AppError);
      expect(stale).toMatchObject({ code: 'invalid_request', publicMessage: `No element with ref ${link} in the latest snapshot; take a new snapshot.` });
      const never = await session.agent.click('e99999', options).catch((error: unknown) => error);
      expect(never).toMatchObject({ code: 'invalid_request', publicMessage: 'No element with ref e99999 in the latest snapshot; take a new snapshot.' });
      const foreignFrame = await session.agent.click('f999e1', options).catch((error: unknown) => error);
      expect(foreignFrame).toMatchObject({ code: 'invalid_request' });
      const junk = await session.agent.click('#send', options).catch((error: unknown) => error);
      expect(junk).toMatchObject({ code: 'invalid_request' });
    } finally {
      await session.close();
    }
  });
});
