import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refOf, useAgentFixture } from './agent-support.js';
import { html, startSite, type Site } from './support.js';

// The agent controls read a page in one round trip when it has no child frames; these pages have
// frames (same-site and cross-site), a shadow root and windows opened by forms, so the slower paths
// are covered too (real Chromium).
describe('agent controls: frames, shadow roots, new windows, requests in flight (real Chromium)', () => {
  const fx = useAgentFixture();
  let site: Site;
  const noVaultValues = { redact: { values: () => [] } };

  beforeAll(async () => {
    site = await startSite((req, res) => {
      const port = site.port;
      if (req.url === '/frames') {
        return html(
          res,
          `<h1>Framed</h1><input type="password" aria-label="Main secret" value="mainpass-4242">
           <div id="host"></div><script>document.getElementById('host').attachShadow({ mode: 'open' }).innerHTML = '<input type="password" aria-label="Shadow secret" value="shadowpass-5678">';</script>
           <iframe title="Same site" src="/inner"></iframe><iframe title="Other site" src="http://other.test:${port}/inner-other"></iframe>`,
        );
      }
      if (req.url === '/inner') return html(res, `<p>Inner frame A</p><input type="password" aria-label="Frame secret" value="framepass-1234">`);
      if (req.url === '/inner-other') return html(res, `<p>Inner frame B</p><input autocomplete="current-password" aria-label="Other secret" value="otherpass-9876">`);
      if (req.url === '/windows') {
        return html(
          res,
          `<form action="/opened" target="_blank"><button>Open in a window</button></form>
           <form action="/same" target="_SELF"><button>Stay here</button></form>`,
        );
      }
      if (req.url === '/fetching') {
        return html(res, `<button onclick="setTimeout(() => fetch('/slow').then((r) => r.text()).then((t) => { document.getElementById('out').textContent = t; }), 10)">Load</button><p id="out">Nothing yet</p>`);
      }
      if (req.url === '/slow') {
        setTimeout(() => res.end('Loaded late'), 300);
        return;
      }
      if (req.url === '/opened') return html(res, '<h1>Opened window</h1>');
      if (req.url?.startsWith('/same')) return html(res, '<h1>Same window</h1>');
      html(res, '<p>Site</p>');
    });
  });
  afterAll(async () => {
    await site?.close();
  });

  const open = (sessionId: string) => fx.openOn(sessionId, ['site.test', 'other.test']);

  it("password values in the main document, a shadow root, a same-site and a cross-site frame are redacted from snapshots and results", async () => {
    const session = await open('agent-frames-1');
    try {
      const navigated = await session.agent.navigate(site.url('site.test', '/frames'), noVaultValues);
      // The frames load after the main document: read until both show (bounded).
      let snap = await session.agent.snapshot(noVaultValues);
      for (let i = 0; i < 50 && !(snap.text.includes('Inner frame A') && snap.text.includes('Inner frame B')); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        snap = await session.agent.snapshot(noVaultValues);
      }
      expect(snap.text).toContain('Inner frame A');
      expect(snap.text).toContain('Inner frame B');
      expect(snap.text).toMatch(/textbox "Other secret"[^\n]*: \[REDACTED\]/);
      const typed = await session.agent.type(refOf(snap.text, 'textbox "Main secret"'), 'typedpass-3131', noVaultValues);
      expect(typed.field).toBe('password');
      // Fields in a child frame and in a shadow root are password fields too (checked in Playwright's utility world as well).
      expect((await session.agent.type(refOf(snap.text, 'textbox "Frame secret"'), 'typedpass-3131', noVaultValues)).field).toBe('password');
      expect((await session.agent.type(refOf(snap.text, 'textbox "Shadow secret"'), 'typedpass-3131', noVaultValues)).field).toBe('password');
      const after = await session.agent.snapshot(noVaultValues);
      const out = JSON.stringify([navigated, snap, typed, after]);
      for (const secret of ['mainpass-4242', 'shadowpass-5678', 'framepass-1234', 'typedpass-3131']) expect(out).not.toContain(secret);
      expect(out).not.toContain('otherpass-9876');
      expect(after.text).toMatch(/textbox "Main secret"[^\n]*: \[REDACTED\]/);
    } finally {
      await session.close();
    }
  });

  it('a form that targets a new window opens one (the click waits for it); a form that targets _SELF stays in the tab', async () => {
    const session = await open('agent-frames-2');
    try {
      await session.agent.navigate(site.url('site.test', '/windows'), noVaultValues);
      const snap = await session.agent.snapshot(noVaultValues);
      const opened = await session.agent.click(refOf(snap.text, 'button "Open in a window"'), noVaultValues);
      expect(opened).toMatchObject({ effect: 'navigated', page: { url: site.url('site.test', '/opened?') } });
      expect((await session.agent.snapshot(noVaultValues)).tabs).toBe(2);
      await session.agent.navigate(site.url('site.test', '/windows'), noVaultValues);
      const again = await session.agent.snapshot(noVaultValues);
      const stayed = await session.agent.click(refOf(again.text, 'button "Stay here"'), noVaultValues);
      expect(stayed).toMatchObject({ effect: 'navigated', page: { url: site.url('site.test', '/same?') } });
      expect(again.tabs).toBe(2);
    } finally {
      await session.close();
    }
  });

  it('a click whose handler starts a request returns after the request and the change it makes', async () => {
    const session = await open('agent-frames-3');
    try {
      await session.agent.navigate(site.url('site.test', '/fetching'), noVaultValues);
      const snap = await session.agent.snapshot(noVaultValues);
      const clicked = await session.agent.click(refOf(snap.text, 'button "Load"'), noVaultValues);
      expect(clicked.effect).toBe('changed');
      expect((await session.agent.snapshot(noVaultValues)).text).toContain('Loaded late');
    } finally {
      await session.close();
    }
  });
});
