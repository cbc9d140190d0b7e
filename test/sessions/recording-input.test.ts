import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserEvent, BrowserPool, BrowserSession, SessionPolicy } from '../../src/browser/index.js';
import { eventLog, html, spec, startSite, startTestPool, type Site } from '../browser/support.js';

// What a recording learns of a viewer's input (src/browser/input-events.ts), on a real Chromium:
// clicks name their target, typing is summarized per field (a password field never yields text,
// other fields only when the asset allows plain text), and copy/paste only where allowed.

const BOX = 'position:absolute;left:20px;width:300px;height:30px;font-size:16px';
const PAGE = `
  <label for="iban">To (IBAN)</label><input id="iban" name="to" style="${BOX};top:40px" value="PREFILLED-VALUE">
  <input id="pw" name="secret" type="password" style="${BOX};top:100px">
  <button id="send" style="${BOX};top:160px"><span>Send money</span></button>
  <p id="copyme" style="${BOX};top:220px">copy this text</p>
  <input id="note" name="note" style="${BOX};top:280px" aria-label="Note">`;

let pool: BrowserPool;
let site: Site;

beforeAll(async () => {
  pool = startTestPool();
  site = await startSite((_req, res) => html(res, PAGE));
});
afterAll(async () => {
  await pool?.close();
  await site?.close();
});

async function open(options: { recordKeystrokes?: 'masked' | 'plain'; policy?: Partial<SessionPolicy> } = {}) {
  const log = eventLog();
  const policy: SessionPolicy = { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny', ...options.policy };
  const session = await pool.open(spec({ onEvent: log.onEvent, policy, ...(options.recordKeystrokes ? { recordKeystrokes: options.recordKeystrokes } : {}) }));
  await session.navigate(site.url('portal.test', '/'));
  return { session, log };
}

async function click(session: BrowserSession, x: number, y: number) {
  for (const action of ['down', 'up'] as const) await session.input({ type: 'mouse', action, x, y, button: 'left' });
}

async function type(session: BrowserSession, text: string) {
  for (const key of text) {
    await session.input({ type: 'key', action: 'down', key });
    await session.input({ type: 'key', action: 'up', key });
  }
}

async function press(session: BrowserSession, ...keys: string[]) {
  for (const key of keys) await session.input({ type: 'key', action: 'down', key });
  for (const key of keys.reverse()) await session.input({ type: 'key', action: 'up', key });
}

const recorded = (events: BrowserEvent[]) => events.filter((e) => e.type === 'click' || e.type === 'keys' || e.type === 'clipboard');

describe('input events for the recording', () => {
  it('describes clicks and summarizes typing per field, masked by default; a password field never yields text', async () => {
    const { session, log } = await open();
    await click(session, 100, 55);
    await type(session, 'DE89370400');
    await click(session, 100, 115);
    await type(session, 'hunter2');
    await press(session, 'Tab');
    await click(session, 100, 175);
    await log.waitFor((e) => e.type === 'click' && e.target.startsWith('button'));
    await session.close();
    expect(recorded(log.events)).toEqual([
      { type: 'click', x: 100, y: 55, button: 'left', target: 'input[name=to] "To (IBAN)"' },
      { type: 'keys', target: 'input[name=to] "To (IBAN)"', field: 'text', count: 10 },
      { type: 'click', x: 100, y: 115, button: 'left', target: 'input[type=password][name=secret]' },
      { type: 'keys', target: 'input[type=password][name=secret]', field: 'password', count: 7 },
      { type: 'click', x: 100, y: 175, button: 'left', target: 'button#send "Send money"' },
    ]);
    expect(JSON.stringify(log.events)).not.toContain('PREFILLED');
  });

  it('keeps the text of ordinary fields when the asset allows plain text, never of a password field', async () => {
    const { session, log } = await open({ recordKeystrokes: 'plain' });
    await click(session, 100, 295);
    await type(session, 'hello');
    await press(session, 'Backspace');
    await session.input({ type: 'text', text: 'é!' });
    await click(session, 100, 115);
    await type(session, 'hunter2');
    // The summary of the field typed into last is reported when the session ends, right after the
    // last key: the close waits for the reads of keys already typed.
    await session.close();
    expect(recorded(log.events).filter((e) => e.type === 'keys')).toEqual([
      { type: 'keys', target: 'input[name=note] "Note"', field: 'text', count: 7, text: 'hellé!' },
      { type: 'keys', target: 'input[type=password][name=secret]', field: 'password', count: 7 },
    ]);
  });

  it('reports copy and paste (how many characters) only where the policy allows them', async () => {
    const denied = await open();
    await click(denied.session, 100, 55);
    await press(denied.session, 'Control', 'a');
    await press(denied.session, 'Control', 'c');
    await denied.session.close();
    expect(recorded(denied.log.events).filter((e) => e.type === 'clipboard')).toEqual([]);

    const allowed = await open({ policy: { clipboardCopy: 'allow', clipboardPaste: 'allow' } });
    await click(allowed.session, 100, 55);
    await press(allowed.session, 'Control', 'a');
    await press(allowed.session, 'Control', 'c');
    await allowed.log.waitFor((e) => e.type === 'clipboard' && e.direction === 'copy');
    await click(allowed.session, 100, 295);
    // A Ctrl+V reads nothing (the remote clipboard is never used, src/browser/clipboard.ts): pasted text comes from the viewer.
    await press(allowed.session, 'Control', 'v');
    expect(await allowed.session.paste('pasted ✓')).toBe('inserted');
    await allowed.log.waitFor((e) => e.type === 'clipboard' && e.direction === 'paste');
    await allowed.session.close();
    expect(recorded(allowed.log.events).filter((e) => e.type === 'clipboard')).toEqual([
      { type: 'clipboard', direction: 'copy', chars: 'PREFILLED-VALUE'.length },
      { type: 'clipboard', direction: 'paste', chars: 'pasted ✓'.length },
    ]);
  });
});
