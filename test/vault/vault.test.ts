import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { ADMIN, auditRows, newKey, values, vaultOn } from './support.js';

const READ = { sessionId: 'sess-1', purpose: 'login' };

describe('vault: envelope encryption, versions, reads', () => {
  const fresh = useTestDatabase();

  it('sets, reads back through read() only, and records metadata without values', async () => {
    const key = newKey();
    const { vault, audit, close } = await vaultOn(fresh.db, key);
    fresh.defer(close);
    const meta = await vault.set({ entryId: 'bank-a', values: values({ username: 'teller', password: 'pw-one', totpSeed: 'JBSWY3DPEHPK3PXP' }) }, ADMIN);
    expect(meta).toMatchObject({ id: 'bank-a', version: 1, fields: ['password', 'totpSeed', 'username'], setBy: { id: 'admin-1' }, ageDays: 0, maxAgeDays: 90, stale: false });
    const secret = await vault.read({ entryId: 'bank-a', ...READ });
    expect(secret.get('password')!.toString()).toBe('pw-one');
    expect(secret.get('username')!.toString()).toBe('teller');
    const view = secret.get('password')!;
    expect(JSON.stringify(secret)).not.toContain('pw-one');
    secret.dispose();
    expect(view.every((b) => b === 0)).toBe(true);
    expect(() => secret.get('password')).toThrow();
    await audit.trail.flush();
    const reads = await auditRows(fresh.db, 'vault.secret.read');
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ outcome: 'success', target_id: 'bank-a', details: { session: 'sess-1', purpose: 'login', version: 1 } });
    const sets = await auditRows(fresh.db, 'vault.secret.set');
    expect(sets[0]!.details).toMatchObject({ version: 1, fields: ['password', 'totpSeed', 'username'] });
    const { rows } = await sql<{ t: string }>`SELECT string_agg(ciphertext || wrapped_key || fields::text, '') AS t FROM vault_versions`.execute(fresh.db.database.db);
    expect(rows[0]!.t).not.toContain('pw-one');
    expect(rows[0]!.t).not.toContain(Buffer.from('pw-one').toString('base64'));
  });

  it('keeps superseded versions, merges one field at a time, and lists history', async () => {
    const { vault, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    await vault.set({ entryId: 'bank-b', values: values({ username: 'u', password: 'p1' }) }, ADMIN);
    await vault.set({ entryId: 'bank-b', values: values({ password: 'p2' }), merge: true }, ADMIN);
    const third = await vault.set({ entryId: 'bank-b', values: values({ password: 'p3' }) }, { kind: 'user', id: 'other', name: 'Other' });
    expect(third.fields).toEqual(['password']);
    const history = await vault.history('bank-b');
    expect(history.map((h) => [h.version, h.current, h.supersededAt === null, h.fields.join(',')])).toEqual([
      [3, true, true, 'password'],
      [2, false, false, 'password,username'],
      [1, false, false, 'password,username'],
    ]);
    const secret = await vault.read({ entryId: 'bank-b', ...READ });
    expect(secret.version).toBe(3);
    expect(secret.get('password')!.toString()).toBe('p3');
    secret.dispose();
  });

  it('zero-fills the Buffers it was given', async () => {
    const { vault, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    const given = values({ password: 'wipe-me' });
    const buffer = given.get('password')!;
    await vault.set({ entryId: 'wipe', values: given }, ADMIN);
    expect(buffer.every((b) => b === 0)).toBe(true);
  });

  it('refuses bad input without changing anything and without quoting values', async () => {
    const { vault, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    const attempts = [
      { entryId: 'Bad Id', values: values({ password: 'x' }) },
      { entryId: 'ok', values: values({}) },
      { entryId: 'ok', values: values({ 'bad name': 'canary-val' }) },
      { entryId: 'ok', values: values({ totpSeed: 'not base32 canary-val!' }) },
      { entryId: 'ok', values: values({ password: 'x'.repeat(5000) }) },
      { entryId: 'ok', values: values({ password: 'canary-val' }), maxAgeDays: 0 },
    ];
    for (const input of attempts) {
      const error = await vault.set(input, ADMIN).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('invalid_request');
      expect(JSON.stringify({ m: (error as AppError).message, p: (error as AppError).publicMessage, d: (error as AppError).data })).not.toContain('canary-val');
    }
    expect(await vault.list()).toEqual([]);
  });

  it('refuses a read without session id or purpose, and records it as denied', async () => {
    const { vault, audit, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    await vault.set({ entryId: 'bank-c', values: values({ password: 'p' }) }, ADMIN);
    await expect(vault.read({ entryId: 'bank-c', sessionId: '', purpose: 'login' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(vault.read({ entryId: 'nope', ...READ })).rejects.toMatchObject({ code: 'not_found' });
    await audit.trail.flush();
    expect((await auditRows(fresh.db, 'vault.secret.read')).map((r) => r.outcome)).toEqual(['denied', 'failure']);
  });

  it('lists stale entries (default 90 days, per-entry maximum) and alerts once per stale version', async () => {
    const clock = new ManualClock();
    const raised: string[] = [];
    const { vault, close } = await vaultOn(fresh.db, newKey(), { clock, alerts: { raise: async (a) => (raised.push(`${a.kind}:${a.subject.id}`), { id: 'x' }) } });
    fresh.defer(close);
    await vault.set({ entryId: 'old', values: values({ password: 'p' }) }, ADMIN);
    await vault.set({ entryId: 'short', values: values({ password: 'p' }), maxAgeDays: 10 }, ADMIN);
    clock.advance(11 * 86_400_000);
    expect((await vault.stale()).map((e) => e.id)).toEqual(['short']);
    expect(await vault.alertStale()).toBe(1);
    expect(await vault.alertStale()).toBe(0);
    clock.advance(80 * 86_400_000);
    expect((await vault.stale()).map((e) => e.id)).toEqual(['old', 'short']);
    expect(await vault.alertStale()).toBe(1);
    await vault.set({ entryId: 'short', values: values({ password: 'new' }) }, ADMIN);
    expect((await vault.stale()).map((e) => e.id)).toEqual(['old']);
    clock.advance(11 * 86_400_000);
    expect(await vault.alertStale()).toBe(1);
    expect(raised).toEqual(['vault_entry_stale:short', 'vault_entry_stale:old', 'vault_entry_stale:short']);
  });

  it('deletes an entry with its versions', async () => {
    const { vault, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    await vault.set({ entryId: 'gone', values: values({ password: 'p' }) }, ADMIN);
    await vault.delete('gone', ADMIN);
    expect(await vault.get('gone')).toBeNull();
    await expect(vault.delete('gone', ADMIN)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps versions linear under concurrent sets of one entry: no lost write', async () => {
    const { vault, close } = await vaultOn(fresh.db, newKey());
    fresh.defer(close);
    const n = 12;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => vault.set({ entryId: 'race', values: values({ [`f${i}`]: `v${i}` }), merge: true }, ADMIN)));
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const history = await vault.history('race');
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: n }, (_, i) => n - i));
    expect(history.filter((h) => h.current)).toHaveLength(1);
    // Merging under the row lock: the last version has every field of every writer.
    const secret = await vault.read({ entryId: 'race', ...READ });
    expect(secret.names).toHaveLength(n);
    secret.dispose();
  });
});
