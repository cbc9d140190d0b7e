import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openServices, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createRedactor } from '../../src/core/index.js';
import { dataKeyAad, open } from '../../src/vault/envelope.js';
import { createPgDatabase, dropPgDatabase, seedEmbeddedCluster, TEST_DATABASE_URL } from '../support/databases.js';
import { ADMIN, values } from './support.js';

const ENTRY = join(import.meta.dirname, '..', 'support', 'cli-entry.ts');
const TSX = import.meta.resolve('tsx');
const ENTRIES = 60;

describe('vault rotate-key: killed with SIGKILL mid-way, then run again', () => {
  let dir: string;
  let dbUrl: string | undefined;
  let env: Record<string, string>;
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-rotate-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    if (!dbUrl) seedEmbeddedCluster(join(dir, 'data'));
    writeFileSync(join(dir, 'old.key'), `${oldKey.toString('base64')}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'new.key'), `${newKey.toString('base64')}\n`, { mode: 0o600 });
    env = { WEBASSET_DATA_DIR: join(dir, 'data'), WEBASSET_MASTER_KEY_FILE: join(dir, 'old.key'), LOG_LEVEL: 'warn', ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
  });
  afterEach(async () => {
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  async function withServices<T>(keyFile: string, run: (s: Services) => Promise<T>): Promise<T> {
    const { config, secrets } = loadConfig({ env: { ...env, WEBASSET_MASTER_KEY_FILE: join(dir, keyFile) }, cwd: dir });
    const redactor = createRedactor(secrets);
    const services = await openServices({ config, logger: pino({ level: 'silent' }), redactor, version: 'test' });
    try {
      return await run(services);
    } finally {
      await services.close();
    }
  }

  async function kekCounts(s: Services): Promise<Record<string, number>> {
    const { rows } = await sql<{ kek_id: string; n: number }>`SELECT kek_id, count(*)::int AS n FROM vault_versions GROUP BY kek_id`.execute(s.database.db);
    return Object.fromEntries(rows.map((r) => [r.kek_id, r.n]));
  }

  it('resumes, every entry decrypts under the new key, and the old key opens none', async () => {
    const { oldId, newId } = await withServices('old.key', async (s) => {
      for (let i = 0; i < ENTRIES; i++) {
        const id = `entry-${String(i).padStart(3, '0')}`;
        await s.vault.set({ entryId: id, values: values({ username: `user${i}`, password: `pw-${i}-a` }) }, ADMIN);
        // Superseded versions are re-wrapped too.
        if (i % 3 === 0) await s.vault.set({ entryId: id, values: values({ password: `pw-${i}-b` }), merge: true }, ADMIN);
      }
      const { kekIdOf } = await import('../../src/vault/index.js');
      return { oldId: s.vault.keyId, newId: kekIdOf(newKey) };
    });
    const total = ENTRIES + ENTRIES / 3;

    // A real process, killed as soon as it reports its first re-wrapped row.
    const child = spawn(process.execPath, ['--import', TSX, ENTRY, 'vault', 'rotate-key', '--new-key-file', join(dir, 'new.key'), '--batch-size', '1', '--settle-seconds', '0'], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = once(child, 'exit');
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/re-wrapped \d+/.test(stderr)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`rotate-key ended before it was killed: ${stderr}`)));
    });
    const [, signal] = (await exited) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');

    // Mid-way: rows under both keys, the rotation pending; a node with the old key still reads every entry.
    await withServices('old.key', async (s) => {
      const counts = await kekCounts(s);
      expect(counts[newId] ?? 0).toBeGreaterThan(0);
      expect(counts[oldId] ?? 0).toBeGreaterThan(0);
      for (let i = 0; i < ENTRIES; i += 7) {
        const secret = await s.vault.read({ entryId: `entry-${String(i).padStart(3, '0')}`, sessionId: 's1', purpose: 'login' });
        expect(secret.get('username')!.toString()).toBe(`user${i}`);
        secret.dispose();
      }
    });
    // The new key alone is refused while the rotation is unfinished, with the way out.
    await expect(withServices('new.key', async () => undefined)).rejects.toMatchObject({ code: 'vault_key_mismatch', publicMessage: expect.stringMatching(/unfinished rotation/) as unknown });

    // Run again (in a child too): it finishes.
    const again = spawn(process.execPath, ['--import', TSX, ENTRY, 'vault', 'rotate-key', '--new-key-file', join(dir, 'new.key'), '--settle-seconds', '0'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    again.stdout.on('data', (c: Buffer) => (out += c.toString()));
    again.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = (await once(again, 'exit')) as [number];
    expect(code, out).toBe(0);
    expect(out).toContain(`rotated: every entry is now wrapped by key ${newId}`);

    await withServices('new.key', async (s) => {
      expect(await kekCounts(s)).toEqual({ [newId]: total });
      for (let i = 0; i < ENTRIES; i++) {
        const secret = await s.vault.read({ entryId: `entry-${String(i).padStart(3, '0')}`, sessionId: 's2', purpose: 'login' });
        expect(secret.get('password')!.toString()).toBe(i % 3 === 0 ? `pw-${i}-b` : `pw-${i}-a`);
        secret.dispose();
      }
      // The old key opens no wrapped data key, and nothing sealed under it is left in vault_keys.
      const { rows } = await sql<{ entry_id: string; version: number; wrapped_key: string }>`SELECT entry_id, version, wrapped_key FROM vault_versions`.execute(s.database.db);
      expect(rows).toHaveLength(total);
      for (const row of rows) expect(() => open(oldKey, Buffer.from(row.wrapped_key, 'base64'), dataKeyAad(row.entry_id, row.version))).toThrow();
      const keys = await sql<{ state: string; wrapped_key: string | null }>`SELECT state, wrapped_key FROM vault_keys ORDER BY state`.execute(s.database.db);
      expect(keys.rows).toEqual([
        { state: 'current', wrapped_key: null },
        { state: 'retired', wrapped_key: null },
      ]);
    });
    // And a start with the old key is refused as retired.
    await expect(withServices('old.key', async () => undefined)).rejects.toMatchObject({ code: 'vault_key_mismatch', publicMessage: expect.stringMatching(/retired by a key rotation/) as unknown });
  });
});
