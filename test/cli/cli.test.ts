import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';

describe('webasset CLI', () => {
  let dir: string;
  let env: Record<string, string>;
  let dbUrl: string | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-cli-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    env = { WEBASSET_DATA_DIR: join(dir, 'data'), ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
  });
  afterEach(async () => {
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints help with every command, and refuses unknown commands and flags with exit 2', async () => {
    const help = await cli(['--help'], env, dir);
    expect(help.code).toBe(0);
    for (const word of ['serve', 'migrate', 'audit verify', 'audit export', 'tokens create', 'PORT', 'DATABASE_URL']) expect(help.stdout).toContain(word);
    expect((await cli(['frobnicate'], env, dir)).code).toBe(2);
    const badFlag = await cli(['audit', 'verify', '--frm', '3'], env, dir);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('invalid_request');
    expect((await cli(['audit', 'verify', '--from', 'zero'], env, dir)).code).toBe(2);
    expect((await cli(['audit', 'export', '--format', 'xml'], env, dir)).code).toBe(2);
  });

  it('stops on invalid configuration with every problem listed, exit 2', async () => {
    const res = await cli(['migrate'], { ...env, PORT: 'x', WEBASSET_NOPE: '1' }, dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('PORT');
    expect(res.stderr).toContain('WEBASSET_NOPE');
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('migrates, creates a token printed once, verifies, exports and verifies the export offline', async () => {
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    const created = await cli(['tokens', 'create', '--name', 'auditor script', '--role', 'auditor'], env, dir);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^wat_/);
    const listed = await cli(['tokens', 'list'], env, dir);
    expect(listed.stdout).toContain('auditor script');
    expect(listed.stdout).not.toContain(token);

    const verified = await cli(['audit', 'verify'], env, dir);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^OK: \d+ events/);

    const ndjson = await cli(['audit', 'export', '--format', 'ndjson'], env, dir);
    expect(ndjson.code).toBe(0);
    expect(ndjson.stdout).not.toContain(token);
    const file = join(dir, 'export.ndjson');
    writeFileSync(file, ndjson.stdout);
    const offline = await cli(['audit', 'verify', '--file', file], env, dir);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/^OK: /);

    const csv = await cli(['audit', 'export', '--format', 'csv', '--action', 'token'], env, dir);
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^seq,id,time,/);
    expect(csv.stdout).toContain('token.created');
    expect(csv.stdout).not.toContain(token);

    // The trail records its own use: the verification and both exports.
    const again = await cli(['audit', 'export', '--format', 'ndjson', '--action', 'audit'], env, dir);
    const actions = again.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action?: string }).map((r) => r.action).filter(Boolean);
    expect(actions).toEqual(expect.arrayContaining(['audit.verified', 'audit.exported']));
  });

  it('exits 1 and names the sequence number when the trail was altered', async () => {
    expect((await cli(['tokens', 'create', '--name', 'a', '--role', 'admin'], env, dir)).code).toBe(0);
    expect((await cli(['tokens', 'create', '--name', 'b', '--role', 'admin'], env, dir)).code).toBe(0);
    await tamper(env, dir, 2);
    const res = await cli(['audit', 'verify'], env, dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^FAILED at seq 2: /);
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, (await cli(['audit', 'export', '--format', 'ndjson'], env, dir)).stdout);
    expect((await cli(['audit', 'verify', '--file', file], env, dir)).code).toBe(1);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"type":"header"', '"type":"hdr"'));
    expect((await cli(['audit', 'verify', '--file', file], env, dir)).stderr).toContain('header missing');
  });

  it('refuses to open the embedded database another live process holds, exit 3', async () => {
    if (dbUrl) return;
    const dataDir = join(dir, 'data');
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    // pid 1 is always alive and is not us.
    writeFileSync(join(dataDir, 'db.lock'), '1');
    const res = await cli(['audit', 'verify'], env, dir);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('embedded_database_locked');
  });
});

/** Changes one stored event as a superuser would, bypassing the append-only trigger. */
async function tamper(env: Record<string, string>, dir: string, seq: number): Promise<void> {
  const statements = [
    'ALTER TABLE audit_events DISABLE TRIGGER USER',
    `UPDATE audit_events SET details = '{"name":"forged"}' WHERE seq = ${seq}`,
    'ALTER TABLE audit_events ENABLE TRIGGER USER',
  ];
  if (env.DATABASE_URL) {
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    for (const s of statements) await client.query(s);
    await client.end();
    return;
  }
  const { openDatabase } = await import('../../src/store/index.js');
  const { sql } = await import('kysely');
  const database = await openDatabase({ dataDir: env.WEBASSET_DATA_DIR ?? join(dir, 'data') });
  for (const s of statements) await sql.raw(s).execute(database.db);
  await database.close();
}
