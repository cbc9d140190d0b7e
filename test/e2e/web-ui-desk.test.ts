import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { runCli } from '../../src/cli/main.js';
import { sessionCaller, type Caller } from '../http/admin-callers.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ARTIFACTS, cookieOf, watchedContext } from '../support/web-ui.js';

/**
 * The auditor's desk in a real Chromium: the export link downloads a file that verifies offline,
 * "Verify now" reports the chain intact, and a recording's evidence bundle downloads as a .tar that
 * `webasset recording verify` accepts.
 */
describe('web UI: the auditor\'s desk downloads and verifies', () => {
  let ts: TestServer;
  let browser: Browser;
  let auditor: Caller;
  let recordingId: string;
  const scratch = mkdtempSync(join(tmpdir(), 'webasset-desk-e2e-'));

  beforeAll(async () => {
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'desk-auditor', ['auditor']);
    // A short sealed recording, signed by the server's own key.
    const recorder = await ts.services.recordings.begin({ sessionId: randomUUID(), assetId: 'desk-portal', userId: randomUUID(), retentionDays: 30 });
    recorder.event({ type: 'navigated', tabId: 't1', url: 'https://desk.example.com/accounts', title: 'Accounts' });
    recorder.event({ type: 'click', x: 10, y: 20, button: 'left', target: 'button "Transfer"' });
    await recorder.seal({ complete: true });
    recordingId = recorder.recordingId;
    browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('exports NDJSON that verifies, runs a verification that reports the chain intact, downloads an evidence bundle that verifies', async () => {
    const desk = await watchedContext(browser);
    const cookie = cookieOf(auditor);
    await desk.context.addCookies([{ name: 'webasset', value: cookie, url: ts.url }]);
    const page = await desk.context.newPage();

    // 1. Export: a plain link, the file the browser saves verifies with the command line.
    await page.goto(`${ts.url}/audit`);
    await page.locator('#audit-events').waitFor();
    const [ndjson] = await Promise.all([page.waitForEvent('download'), page.locator('#audit-export-ndjson').click()]);
    expect(ndjson.suggestedFilename()).toMatch(/^audit-export-.*\.ndjson$/);
    expect(ndjson.url()).toBe(`${ts.url}/api/audit/export?format=ndjson`);
    const exportFile = join(scratch, ndjson.suggestedFilename());
    await ndjson.saveAs(exportFile);
    const verified = await cli(['audit', 'verify', '--file', exportFile, '--public-key', ts.services.audit.signer.publicKey], {}, scratch);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^OK: /);

    // 2. Verification: never run yet, then "Verify now" until the panel says intact.
    const status = page.locator('#audit-verification-status');
    await expect.poll(() => status.textContent()).toBe('The chain has not been verified yet.');
    await page.locator('#audit-verify-now').click();
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^Intact: \d+ events checked/);
    await page.screenshot({ path: join(ARTIFACTS, 'auditor-desk-verification.en.png'), fullPage: true });

    // 3. Evidence bundle: the row's download link, a .tar that `webasset recording verify` accepts.
    await page.goto(`${ts.url}/recordings`);
    const row = page.locator(`#recordings tr[data-recording="${recordingId}"]`);
    await row.waitFor();
    await row.locator('details.evidence summary').click();
    const [bundle] = await Promise.all([page.waitForEvent('download'), row.locator(`a[data-evidence="${recordingId}"]`).click()]);
    expect(bundle.suggestedFilename()).toBe(`evidence-${recordingId}.tar`);
    const bundleFile = join(scratch, bundle.suggestedFilename());
    await bundle.saveAs(bundleFile);
    const out: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => out.push(c));
    const code = await runCli(['recording', 'verify', bundleFile], { env: {}, cwd: scratch, stdin: new PassThrough(), stdout: sink, stderr: sink }, ts.services, {
      kind: 'user',
      id: 'os:examiner@host',
    });
    expect(Buffer.concat(out).toString('utf8')).toContain(`recording ${recordingId}: OK`);
    expect(code).toBe(0);

    // No secret in any address the desk used, and the strict CSP held.
    for (const url of [ndjson.url(), bundle.url()]) expect(url).not.toContain(cookie);
    expect(readFileSync(exportFile, 'utf8')).not.toContain(cookie);
    expect(desk.watch.violations).toEqual([]);
    await desk.context.close();
  }, 180_000);
});
