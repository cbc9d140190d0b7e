import { sql, type Kysely } from 'kysely';

/**
 * Vault entries kept in an external secret manager (Infisical): the entry
 * holds only where the values are (project, environment, path, secret names),
 * never a value. When an entry has a reference, reads go there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE vault_references (
      entry_id    text PRIMARY KEY,
      provider    text NOT NULL,
      reference   jsonb NOT NULL,
      set_by_kind text NOT NULL,
      set_by_id   text NOT NULL,
      set_by_name text,
      set_at_ms   bigint NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE vault_references`.execute(db);
}
