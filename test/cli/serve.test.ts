import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';

const ENTRY = join(import.meta.dirname, '..', 'support', 'cli-entry.ts');
// Resolved here, because the child runs in a temporary folder without node_modules.
const TSX = import.meta.resolve('tsx');
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
    const child = spawn(process.execPath, ['--import', TSX, ENTRY, 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 50);
      child.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`serve exited early with ${code}: ${output}`));
      });
    });
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
    expect(output).not.toContain(CANARY);

    const exported = await cli(['audit', 'export', '--format', 'ndjson', '--action', 'system'], cliEnv, dir);
    const actions = exported.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { action?: string }).action).filter(Boolean);
    expect(actions).toEqual(['system.started', 'system.stopped']);
    expect(output).not.toContain(token);
    expect((await cli(['audit', 'verify'], cliEnv, dir)).code).toBe(0);
  });
});
