import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ADMIN, auditRows, newKey, values, vaultOn, type VaultFixture } from './support.js';

const READ = { sessionId: 'sess-t', purpose: 'login' };
const CANARY = 'Canary-Tamper-Password-7c1f';

/** Every failed read: refused with vault_entry_unreadable, nothing returned, recorded as a failure without a value. */
async function expectUnreadable(fx: VaultFixture, entryId: string, db: Parameters<typeof auditRows>[0], reason: RegExp): Promise<void> {
  const error = await fx.vault.read({ entryId, ...READ }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('vault_entry_unreadable');
  expect((error as AppError).publicMessage).toContain(entryId);
  expect(`${(error as Error).message} ${(error as AppError).publicMessage} ${(error as Error).stack}`).not.toContain(CANARY);
  await fx.audit.trail.flush();
  const last = (await auditRows(db, 'vault.secret.read')).at(-1)!;
  expect(last).toMatchObject({ outcome: 'failure', target_id: entryId });
  expect(String(last.details.reason)).toMatch(reason);
  expect(last.raw).not.toContain(CANARY);
}

describe('vault: tampered, moved, truncated data and wrong keys', () => {
  const fresh = useTestDatabase();

  async function twoEntries() {
    const fx = await vaultOn(fresh.db, newKey());
    fresh.defer(fx.close);
    await fx.vault.set({ entryId: 'alpha', values: values({ username: 'a', password: CANARY }) }, ADMIN);
    await fx.vault.set({ entryId: 'beta', values: values({ username: 'b', password: 'beta-pass' }) }, ADMIN);
    return fx;
  }
  const db = () => fresh.db.database.db;

  it('refuses a flipped bit in the ciphertext', async () => {
    const fx = await twoEntries();
    const { rows } = await sql<{ c: string }>`SELECT ciphertext AS c FROM vault_versions WHERE entry_id = 'alpha'`.execute(db());
    const bytes = Buffer.from(rows[0]!.c, 'base64');
    bytes[bytes.length - 20]! ^= 0x01;
    await sql`UPDATE vault_versions SET ciphertext = ${bytes.toString('base64')} WHERE entry_id = 'alpha'`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /fields authentication failed/);
  });

  it('refuses a flipped bit in the wrapped data key', async () => {
    const fx = await twoEntries();
    const { rows } = await sql<{ w: string }>`SELECT wrapped_key AS w FROM vault_versions WHERE entry_id = 'alpha'`.execute(db());
    const bytes = Buffer.from(rows[0]!.w, 'base64');
    bytes[20]! ^= 0x80;
    await sql`UPDATE vault_versions SET wrapped_key = ${bytes.toString('base64')} WHERE entry_id = 'alpha'`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /data key authentication failed/);
  });

  it('refuses ciphertext and wrapped key swapped between two entries', async () => {
    const fx = await twoEntries();
    await sql`
      UPDATE vault_versions v SET ciphertext = o.ciphertext, wrapped_key = o.wrapped_key
      FROM (SELECT entry_id, ciphertext, wrapped_key FROM vault_versions) o
      WHERE (v.entry_id = 'alpha' AND o.entry_id = 'beta') OR (v.entry_id = 'beta' AND o.entry_id = 'alpha')`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /authentication failed/);
    await expectUnreadable(fx, 'beta', fresh.db, /authentication failed/);
  });

  it('refuses an old version moved onto the current one', async () => {
    const fx = await twoEntries();
    await fx.vault.set({ entryId: 'alpha', values: values({ password: 'second' }) }, ADMIN);
    await sql`
      UPDATE vault_versions v SET ciphertext = o.ciphertext, wrapped_key = o.wrapped_key
      FROM (SELECT ciphertext, wrapped_key FROM vault_versions WHERE entry_id = 'alpha' AND version = 1) o
      WHERE v.entry_id = 'alpha' AND v.version = 2`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /authentication failed/);
  });

  it('refuses truncated data', async () => {
    const fx = await twoEntries();
    await sql`UPDATE vault_versions SET ciphertext = substr(ciphertext, 1, 12) WHERE entry_id = 'alpha'`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /fields truncated/);
    await sql`UPDATE vault_versions SET wrapped_key = '' WHERE entry_id = 'beta'`.execute(db());
    await expectUnreadable(fx, 'beta', fresh.db, /data key truncated/);
  });

  it('refuses a row that names a key this node does not hold', async () => {
    const fx = await twoEntries();
    await sql`UPDATE vault_versions SET kek_id = 'somewhere' WHERE entry_id = 'alpha'`.execute(db());
    await expectUnreadable(fx, 'alpha', fresh.db, /not hold/);
  });

  it('refuses to start with a wrong key, with a clear error, before any read', async () => {
    const fx = await twoEntries();
    await fx.close();
    const wrong = newKey();
    const error = await vaultOn(fresh.db, wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('vault_key_mismatch');
    expect((error as AppError).publicMessage).toMatch(/is not the vault's key/);
  });

  it('refuses to start when the key record is gone but entries remain', async () => {
    const fx = await twoEntries();
    await fx.close();
    await sql`DELETE FROM vault_keys`.execute(db());
    await expect(vaultOn(fresh.db, newKey())).rejects.toMatchObject({ code: 'vault_key_mismatch' });
  });
});
