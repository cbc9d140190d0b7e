import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runLogin } from '../../src/browser/login/index.js';
import { DEMO_ASSET_ID, seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { compileHostPattern, hostMatches } from '../../src/core/index.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import type { ChildProcess } from 'node:child_process';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe, stopServe } from '../support/serve-child.js';
import { startTestServer, type TestServer } from '../support/server.js';

const by: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], via: 'cli', groups: [], mfa: true };
const actor = { kind: 'user' as const, id: 'test-admin', name: 'Test admin' };
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('demo portal seeding (quickstart)', () => {
  let server: TestServer;
  let portal: DemoPortal;
  let url: string;
  beforeAll(async () => {
    server = await startTestServer();
    portal = createDemoPortal(DEMO_CREDENTIALS);
    url = await portal.start(0, '127.0.0.1');
  });
  afterAll(async () => {
    await portal?.stop();
    await server?.stop();
  });

  it('adds the vault entry, the asset and a permission for the first administrator, once; the seeded asset then signs in (real Chromium)', async () => {
    const { services } = server;
    const none = await seedDemoPortal(services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, by);
    expect(none.join('\n')).toMatch(/permission: none yet/);

    const admin = await services.users.create({ username: 'root', roles: ['admin'], source: 'local' }, by);
    const lines = await seedDemoPortal(services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, by);
    expect(lines).toEqual([`vault entry ${DEMO_ASSET_ID}: kept`, `asset ${DEMO_ASSET_ID}: pointed at ${url}`, 'permission for root: connect, watch']);
    expect(await seedDemoPortal(services, { url, credentials: DEMO_CREDENTIALS, grantTo: 'root' }, actor, by)).toContain('permission for root: kept');

    const asset = (await services.assets.get(DEMO_ASSET_ID))!;
    expect(asset).toMatchObject({ url, allowedHosts: ['127.0.0.1'], startUrl: `${url}/login-totp`, credential: DEMO_ASSET_ID, loginRecipe: null, allowInsecureHttp: true });
    expect((await services.vault.get(DEMO_ASSET_ID))!.fields).toEqual(['password', 'totpSeed', 'username']);
    expect(await services.grants.list({ assetId: DEMO_ASSET_ID, subjectKind: 'user', subjectId: admin.id })).toHaveLength(1);

    // What a session will do with it: the vault's credential, the asset's checks, the automatic recipe.
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: LAUNCH_ARGS });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const hosts = asset.allowedHosts.map((host) => compileHostPattern(host));
      const outcome = await runLogin(
        page,
        context,
        {
          startUrl: asset.startUrl,
          recipe: asset.loginRecipe,
          successCheck: asset.successCheck,
          failureCheck: asset.failureCheck,
          readCredential: () => services.vault.read({ entryId: DEMO_ASSET_ID, sessionId: 'seed-test', purpose: 'login' }),
        },
        { isAllowedOrigin: (target) => /^https?:$/.test(new URL(target).protocol) && hosts.some((host) => hostMatches(host, new URL(target).hostname)) },
      );
      expect(outcome).toMatchObject({ ok: true, injection: 'intercept' });
      expect(await page.locator('#balance').textContent()).toBe('€12,345.67');
    } finally {
      await browser.close();
    }
    expect(server.logs.text()).not.toContain(DEMO_CREDENTIALS.password);
  });
});

describe('webasset demo-portal seed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-seed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('seeds the embedded database from the command line and says what it did, without a value', async () => {
    const env = { WEBASSET_DATA_DIR: join(dir, 'data') };
    await cli(['migrate'], env, dir);
    const first = await cli(['demo-portal', 'seed', '--url', 'http://127.0.0.1:8123'], env, dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`vault entry ${DEMO_ASSET_ID}: created (username, password, totpSeed)`);
    expect(first.stdout).toContain(`asset ${DEMO_ASSET_ID}: created for http://127.0.0.1:8123`);
    expect(first.stdout).not.toContain(DEMO_CREDENTIALS.password);
    const unknown = await cli(['demo-portal', 'seed', '--grant', 'nobody'], env, dir);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no user named nobody');
    const list = await cli(['vault', 'list'], env, dir);
    expect(list.stdout).toContain(DEMO_ASSET_ID);
  });
});

describe('WEBASSET_DEMO_PORTAL_PORT (quickstart)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-serve-'));
  let child: ChildProcess | undefined;
  let dbUrl: string | undefined;
  afterAll(async () => {
    await stopServe(child);
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve starts the demo portal beside it and seeds it; the first administrator gets the permission; shutdown stops it', async () => {
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    const common = { WEBASSET_DATA_DIR: join(dir, 'data'), ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
    const started = await startServe({ ...process.env, PORT: '0', WEBASSET_DEMO_PORTAL_PORT: '0', ...common }, dir);
    child = started.child;
    // Seeding runs once the server listens, which is when startServe resolves: the line may come a moment later.
    const line = await vi.waitFor(
      () => {
        const found = started.output().split('\n').find((l) => l.includes('DEVELOPMENT: demo portal'));
        expect(found).toBeDefined();
        return found!;
      },
      { timeout: 15_000, interval: 50 },
    );
    const demoUrl = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line)![1]!;
    expect(line).toContain(`asset ${DEMO_ASSET_ID}: created for ${demoUrl}`);
    expect(line).toContain('permission: none yet');
    expect((await fetch(`${demoUrl}/login`)).status).toBe(200);

    expect((await cli(['users', 'create', '--admin', '--username', 'root'], common, dir)).code).toBe(0);
    const seeded = await cli(['demo-portal', 'seed', '--url', demoUrl], common, dir);
    expect(seeded.stdout).toContain('permission for root: connect, watch');

    await stopServe(child);
    await expect(fetch(`${demoUrl}/login`)).rejects.toThrow();
    expect(started.output()).not.toContain(DEMO_CREDENTIALS.password);
  });
});
