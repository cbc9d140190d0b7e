import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openServices } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/index.js';
import { createRedactor } from '../../src/core/index.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe, stopServe, type ServeChild } from '../support/serve-child.js';

const CANARY_PASSWORD = 'Canary-Cli-Password-0b7d2e';
const CANARY_SEED = 'ORSXG5BAONSWKZBAMNQW44TZ';

async function run(args: string[], env: Record<string, string>, cwd: string, stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  input.end(stdin ?? '');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runCli(args, { env, cwd, stdin: input, stdout, stderr });
  return { code, out, err };
}

describe('webasset vault (against a running server)', () => {
  let dir: string;
  let dbUrl: string | undefined;
  let server: ServeChild | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-vault-cli-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
  });
  afterEach(async () => {
    await stopServe(server?.child);
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets from stdin and files, never takes or prints a value, rotates the key while the server runs', async () => {
    const env = { WEBASSET_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'info', ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
    server = await startServe({ ...process.env, ...env, PORT: '0' }, dir);

    // Values on the command line are refused before anything happens.
    const refused = await run(['vault', 'set', 'bank-a', '--field', 'password', `--value=${CANARY_PASSWORD}`], env, dir);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('never taken from the command line');
    expect(refused.err).not.toContain(CANARY_PASSWORD);
    expect((await run(['vault', 'set', 'bank-a', CANARY_PASSWORD, '--field', 'password'], env, dir)).code).toBe(2);

    const set = await run(['vault', 'set', 'bank-a', '--field', 'password', '--stdin'], env, dir, `${CANARY_PASSWORD}\n`);
    expect(set.code, set.err).toBe(0);
    expect(set.out).toContain('set bank-a: version 1, fields password');
    writeFileSync(join(dir, 'seed.txt'), `${CANARY_SEED}\n`, { mode: 0o600 });
    expect((await run(['vault', 'set', 'bank-a', '--field', 'totpSeed', '--file', 'seed.txt'], env, dir)).code).toBe(0);
    const third = await run(['vault', 'set', 'bank-a', '--field', 'username', '--stdin', '--max-age-days', '30'], env, dir, 'teller01');
    expect(third.out).toContain('version 3, fields password,totpSeed,username, maximum age 30 days');

    const list = await run(['vault', 'list'], env, dir);
    expect(list.out).toMatch(/^bank-a\tv3\tpassword,totpSeed,username\t.*\t0d\tmax 30d\tfresh\n$/);
    const history = await run(['vault', 'history', 'bank-a'], env, dir);
    expect(history.out.trim().split('\n').map((l) => l.split('\t').slice(0, 3).join(' '))).toEqual(['3 current password,totpSeed,username', '2 superseded password,totpSeed', '1 superseded password']);
    expect((await run(['vault', 'stale'], env, dir)).err).toContain('no stale entries');

    const newKey = randomBytes(32).toString('base64');
    writeFileSync(join(dir, 'new.key'), `${newKey}\n`, { mode: 0o600 });
    const token = (await run(['tokens', 'create', '--name', 'vault-test', '--role', 'admin'], env, dir)).out.trim();
    // PostgreSQL: the CLI works on the database directly and waits until the idle server has learned the new key (it re-reads every 10 s).
    const rotated = await run(['vault', 'rotate-key', '--new-key-file', 'new.key', ...(dbUrl ? ['--settle-seconds', '21'] : [])], env, dir);
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.out).toContain('rotated: every entry is now wrapped by key');
    // The running server seals and opens under the new key at once (a merge decrypts the previous version).
    const response = await fetch(`${server.url}/api/admin/vault/bank-a`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { branchCode: '0042' }, merge: true }),
    });
    const after = { out: await response.text() };
    expect(response.status, after.out).toBe(200);
    expect(after.out).toContain('"version":4');

    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await exited;

    // Started again with the old key file: refused, exit 2, with the reason.
    const stale = await run(['vault', 'list'], env, dir);
    expect(stale.code).toBe(2);
    expect(stale.err).toMatch(/vault_key_mismatch.*retired by a key rotation/);
    writeFileSync(join(dir, 'data', 'keys', 'master.key'), `${newKey}\n`, { mode: 0o600 });
    const { config, secrets } = loadConfig({ env, cwd: dir });
    const services = await openServices({ config, logger: pino({ level: 'silent' }), redactor: createRedactor(secrets), version: 'test' });
    try {
      const secret = await services.vault.read({ entryId: 'bank-a', sessionId: 'cli-test', purpose: 'login' });
      expect(secret.names).toEqual(['branchCode', 'password', 'totpSeed', 'username']);
      expect(secret.get('password')!.toString()).toBe(CANARY_PASSWORD);
      expect(secret.get('totpSeed')!.toString()).toBe(CANARY_SEED);
      expect(secret.get('username')!.toString()).toBe('teller01');
      secret.dispose();
      const audit = await sql<{ t: string }>`SELECT string_agg(action || ' ' || actor_id || ' ' || details, '\n') AS t FROM audit_events`.execute(services.database.db);
      expect(audit.rows[0]!.t).toContain('vault.key.rotated');
      for (const canary of [CANARY_PASSWORD, CANARY_SEED]) {
        expect(audit.rows[0]!.t).not.toContain(canary);
        expect(server.output()).not.toContain(canary);
        for (const text of [set.out, set.err, list.out, history.out, rotated.out, rotated.err, after.out]) expect(text).not.toContain(canary);
      }
    } finally {
      await services.close();
    }
    expect(server.output().match(/created the vault master key file/g)).toHaveLength(1);
  });
});
