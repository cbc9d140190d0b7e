import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Audit } from '../../src/audit/index.js';
import type { Clock } from '../../src/core/index.js';
import { openVault, type StaleAlertSink, type Vault } from '../../src/vault/index.js';
import type { TestDatabase } from '../support/databases.js';
import { buildAudit } from '../support/audit-fixtures.js';

export const ADMIN = { kind: 'user' as const, id: 'admin-1', name: 'Admin One' };
export const SYSTEM = { kind: 'system' as const, id: 'test-node', name: 'webasset' };

export function newKey(): Buffer {
  return randomBytes(32);
}

export function values(fields: Record<string, string>): Map<string, Buffer> {
  return new Map(Object.entries(fields).map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
}

export interface VaultFixture {
  vault: Vault;
  audit: Audit;
  close: () => Promise<void>;
}

/** A vault on the test database with a real audit trail. */
export async function vaultOn(db: TestDatabase, key: Buffer, options: { clock?: Clock; alerts?: StaleAlertSink } = {}): Promise<VaultFixture> {
  const audit = buildAudit(db.database, db.dataDir, { clock: options.clock });
  await audit.trail.start();
  try {
    const vault = await openVault({ db: db.database.db, trail: audit.trail, clock: options.clock ?? { now: () => Date.now() }, masterKey: key, systemActor: SYSTEM, alerts: options.alerts });
    return {
      vault,
      audit,
      async close() {
        vault.close();
        await audit.trail.close();
      },
    };
  } catch (error) {
    await audit.trail.close();
    throw error;
  }
}

export async function auditRows(db: TestDatabase, action: string): Promise<Array<{ outcome: string; target_id: string | null; details: Record<string, unknown>; raw: string }>> {
  const { rows } = await sql<{ outcome: string; target_id: string | null; details: string }>`
    SELECT outcome, target_id, details FROM audit_events WHERE action = ${action} ORDER BY seq`.execute(db.database.db);
  return rows.map((r) => ({ outcome: r.outcome, target_id: r.target_id, details: JSON.parse(r.details) as Record<string, unknown>, raw: r.details }));
}
