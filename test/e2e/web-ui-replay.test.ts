import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { sessionCaller } from '../http/admin-callers.js';
import { record, recorderNode, screenshotJpegs, type Step } from '../http/recordings-fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { axeViolations } from '../support/axe.js';
import { ARTIFACTS, cookieOf } from '../support/web-ui.js';

// The replay page (web/replay/, plain files outside the app) in the three languages of issue 8: chosen from the
// browser, changed with its switch and remembered under the app's key; numbers and dates in the reader's locale;
// axe finds nothing serious or critical; the strict CSP holds.


const LANGUAGES = [
  {
    lang: 'en',
    locale: 'en-US',
    texts: { play: 'Play', speed: 'Speed', events: 'Events', paused: 'Paused', title: /^Replay Jan 5, 2026.* · portal · WebAsset Controller$/, half: '0.5×' },
    events: ['Session active', 'Opened “Statements” https://portal.test/statements', 'Click on a "Export" (right button)', 'Downloaded report.csv (1,234,567 bytes)', 'Session ended (ended by the user)'],
  },
  {
    lang: 'pt-BR',
    locale: 'pt-BR',
    texts: { play: 'Reproduzir', speed: 'Velocidade', events: 'Eventos', paused: 'Pausado', title: /^Reprodução 5 de jan\.? de 2026.* · portal · WebAsset Controller$/, half: '0,5×' },
    events: ['Sessão ativa', 'Abriu “Statements” https://portal.test/statements', 'Clique em a "Export" (botão direito)', 'Baixou report.csv (1.234.567 bytes)', 'Sessão encerrada (encerrada pelo usuário)'],
  },
  {
    lang: 'es',
    locale: 'es-ES',
    texts: { play: 'Reproducir', speed: 'Velocidad', events: 'Eventos', paused: 'En pausa', title: /^Reproducción 5 ene 2026.* · portal · WebAsset Controller$/, half: '0,5×' },
    events: ['Sesión activa', 'Abrió «Statements» https://portal.test/statements', 'Clic en a "Export" (botón derecho)', 'Descargó report.csv (1.234.567 bytes)', 'Sesión terminada (terminada por el usuario)'],
  },
] as const;

const FRAME_TIMES = [0, 500, 1000, 1500];
const STEPS: Step[] = ([
  { at: 0, event: { type: 'state', state: 'active' } },
  { at: 100, event: { type: 'navigated', tabId: 't1', url: 'https://portal.test/statements', title: 'Statements' } },
  ...FRAME_TIMES.map((at, frame) => ({ at, frame })),
  { at: 700, event: { type: 'click', x: 10, y: 20, button: 'right', target: 'a "Export"' } },
  { at: 1200, event: { type: 'download', fileName: 'report.csv', size: 1_234_567, sha256: 'a'.repeat(64) } },
  { at: 2000, event: { type: 'state', state: 'ended', reason: 'user' } },
] satisfies Step[]).sort((a, b) => a.at - b.at);

describe('replay page: en, pt-BR and es from the browser, a switch that is remembered, axe and the strict CSP', () => {
  let ts: TestServer;
  let browser: Browser;
  let cookie: string;
  let path: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const jpegs = await screenshotJpegs(FRAME_TIMES.length);
    ts = await startTestServer();
    cookie = cookieOf(await sessionCaller(ts, 'replay-i18n-auditor', ['auditor']));
    // Started 2026-01-05 09:00 UTC (the fixtures' clock): the tab's title shows that date in the reader's locale.
    const id = await record(recorderNode(ts), { sessionId: randomUUID(), assetId: 'portal', userId: randomUUID() }, jpegs, STEPS, 2000);
    path = `/recordings/${id}/replay`;
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
  });

  /** A signed-in context in `locale`; every CSP violation and page error it reports lands in `problems`. */
  async function newContext(locale: string): Promise<{ context: BrowserContext; problems: string[] }> {
    const context = await browser.newContext({ locale, timezoneId: 'UTC', viewport: { width: 1100, height: 700 } });
    await context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    // Init scripts are injected by the browser's automation, not by the page: the CSP does not apply to them.
    await context.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));" });
    const problems: string[] = [];
    context.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    context.on('weberror', (error) => problems.push(`page error: ${error.error().message}`));
    return { context, problems };
  }

  async function openReplay(page: Page): Promise<void> {
    await page.goto(`${ts.url}${path}`);
    await page.locator('body[data-state="paused"]').waitFor();
    await page.locator('#screen[data-frame-t="0"]').waitFor({ state: 'attached' });
  }

  const eventTexts = (page: Page) => page.locator('#event-list .event-text').allTextContents();

  for (const { lang, locale, texts, events } of LANGUAGES) {
    it(`${lang}: picked from the browser (${locale}), events, numbers and the date in its words; a screenshot; axe finds nothing serious or critical`, async () => {
      const { context, problems } = await newContext(locale);
      const page = await context.newPage();
      await openReplay(page);
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await page.locator('#play').textContent()).toBe(texts.play);
      expect(await page.locator('label.speed').textContent()).toContain(texts.speed);
      expect(await page.locator('#events-heading').textContent()).toBe(texts.events);
      expect(await page.locator('#status').textContent()).toBe(texts.paused);
      expect(await page.locator('#speed option[value="0.5"]').textContent()).toBe(texts.half);
      expect(await page.locator('#language').inputValue()).toBe(lang);
      expect(await page.title()).toMatch(texts.title);
      expect(await eventTexts(page)).toEqual(events);
      expect(await page.locator('#marks .mark[data-t="700"]').getAttribute('aria-label')).toBe(`0:00 ${events[2]}`);
      await page.screenshot({ path: join(ARTIFACTS, `replay.${lang}.png`), fullPage: true });
      // axe in the same page, under the page's own CSP (the engine does not go through it).
      const violations = await axeViolations(page);
      expect(problems).toEqual([]);
      await context.close();
      const report = violations.map((v) => `[${v.impact}] ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
      expect(report.filter((line) => /^\[(serious|critical)\]/.test(line))).toEqual([]);
      if (report.length > 0) console.info(`axe, replay ${lang}:\n${report.join('\n')}`);
    }, 120_000);
  }

  it('switches language with its switch, rewrites what is shown, and remembers the choice under the app key', async () => {
    const { context, problems } = await newContext('en-US');
    const page = await context.newPage();
    await openReplay(page);
    expect(await page.locator('#play').textContent()).toBe('Play');
    await page.getByLabel('Language').selectOption('pt-BR');
    expect(await page.locator('html').getAttribute('lang')).toBe('pt-BR');
    expect(await page.locator('#play').textContent()).toBe('Reproduzir');
    expect(await page.locator('#status').textContent()).toBe('Pausado');
    expect(await eventTexts(page)).toEqual(LANGUAGES[1].events);
    expect(await page.locator('#timeline').getAttribute('aria-label')).toBe('Linha do tempo');
    expect(await page.evaluate('window.localStorage.getItem("webasset.language")')).toBe('pt-BR');

    // Playing after the switch speaks the new language too.
    await page.locator('#speed').selectOption('2');
    await page.locator('#play').click();
    expect(await page.locator('#play').textContent()).toBe('Pausar');
    expect(await page.locator('#status').textContent()).toBe('Reproduzindo a 2×');
    await page.locator('body[data-state="ended"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#status').textContent()).toBe('Fim da gravação');

    // Remembered: the next load, in an English browser, is in Portuguese; then Spanish, likewise.
    await openReplay(page);
    expect(await page.locator('html').getAttribute('lang')).toBe('pt-BR');
    expect(await page.locator('#language').inputValue()).toBe('pt-BR');
    await page.getByLabel('Idioma').selectOption('es');
    await openReplay(page);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await page.locator('#play').textContent()).toBe('Reproducir');
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);

  it('takes the language chosen in the app (same storage key) over the browser’s', async () => {
    const { context, problems } = await newContext('pt-BR');
    await context.addInitScript({ content: "if (location.protocol === 'http:') window.localStorage.setItem('webasset.language', 'es');" });
    const page = await context.newPage();
    await openReplay(page);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await page.locator('#events-heading').textContent()).toBe('Eventos');
    expect(await page.locator('#status').textContent()).toBe('En pausa');
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('words an error in the reader’s language, and again after a switch', async () => {
    const { context } = await newContext('es-ES');
    const page = await context.newPage();
    // The recording is gone (deleted, or the grant withdrawn) between the page and its data: the API answers 404.
    await page.route(`${ts.url}/api/recordings/*`, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"Not found."}}' }));
    await page.goto(`${ts.url}${path}`);
    await page.locator('body[data-state="error"]').waitFor();
    expect(await page.locator('#status').textContent()).toBe('Esta grabación no existe o no tienes permiso para reproducirla.');
    await page.getByLabel('Idioma').selectOption('en');
    expect(await page.locator('#status').textContent()).toBe('This recording does not exist, or you may not replay it.');
    expect(await page.locator('#play').isDisabled()).toBe(true);
    await context.close();
  }, 60_000);
});
