import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe } from '../support/serve-child.js';

const CANARY = 'canary-Zx81-signing-material-000000000000=';

describe('webasset serve', () => {
  let dir: string;
  let dbUrl: string | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-serve-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
  });
  afterEach(async () => {
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, is ready, and on SIGTERM records system.stopped and exits 0 in time', async () => {
    const env = {
      ...process.env,
      PORT: '0',
      WEBASSET_DATA_DIR: join(dir, 'data'),
      // A secret that must never show up in the logs, even though it is configured.
      OIDC_CLIENT_SECRET: CANARY,
      ...(dbUrl ? { DATABASE_URL: dbUrl } : {}),
    };
    const { child, url, output } = await startServe(env, dir);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);

    // While the server runs, one-shot commands still work (embedded: through the admin socket).
    const cliEnv = { WEBASSET_DATA_DIR: join(dir, 'data'), ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
    const created = await cli(['tokens', 'create', '--name', 'live', '--role', 'auditor'], cliEnv, dir);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    const page = await fetch(`${url}/api/audit?action=token.created`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    const live = await cli(['audit', 'verify'], cliEnv, dir);
    expect(live.stdout).toMatch(/^OK: /);
    expect(live.code).toBe(0);

    const exited = once(child, 'exit');
    const sentAt = Date.now();
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(output()).not.toContain(CANARY);

    const exported = await cli(['audit', 'export', '--format', 'ndjson', '--action', 'system'], cliEnv, dir);
    const actions = exported.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { action?: string }).action).filter(Boolean);
    expect(actions).toEqual(['system.started', 'system.stopped']);
    expect(output()).not.toContain(token);
    expect((await cli(['audit', 'verify'], cliEnv, dir)).code).toBe(0);
  });
});
