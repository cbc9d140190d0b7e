import { sql, type Kysely } from 'kysely';

/**
 * The vault (docs/vault.md): entries, their versions, and the key-encryption
 * keys the database knows by fingerprint. Values are stored only sealed:
 * `ciphertext` with the version's data key, `wrapped_key` (the data key)
 * with the key-encryption key named by `kek_id`, both bound to the entry id
 * and version. `vault_keys` holds no usable key: a key check value (HMAC) for
 * the current key and retired ones, and, only while a rotation runs, the next
 * key sealed under the current one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE vault_keys (
      kek_id        text PRIMARY KEY,
      state         text NOT NULL CHECK (state IN ('current', 'next', 'retired')),
      check_value   text NOT NULL,
      wrapped_key   text,
      created_at_ms bigint NOT NULL,
      retired_at_ms bigint
    )`.execute(db);
  // One current key and at most one rotation in progress.
  await sql`CREATE UNIQUE INDEX vault_keys_live ON vault_keys (state) WHERE state IN ('current', 'next')`.execute(db);
  await sql`
    CREATE TABLE vault_entries (
      id                    text PRIMARY KEY,
      current_version       integer NOT NULL,
      max_age_days          integer,
      stale_alerted_version integer,
      created_at_ms         bigint NOT NULL,
      updated_at_ms         bigint NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE vault_versions (
      entry_id         text NOT NULL REFERENCES vault_entries (id) ON DELETE CASCADE,
      version          integer NOT NULL,
      fields           jsonb NOT NULL,
      kek_id           text NOT NULL,
      wrapped_key      text NOT NULL,
      ciphertext       text NOT NULL,
      set_by_kind      text NOT NULL,
      set_by_id        text NOT NULL,
      set_by_name      text,
      set_at_ms        bigint NOT NULL,
      superseded_at_ms bigint,
      PRIMARY KEY (entry_id, version)
    )`.execute(db);
  await sql`CREATE INDEX vault_versions_kek ON vault_versions (kek_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['vault_versions', 'vault_entries', 'vault_keys']) await sql`DROP TABLE ${sql.table(table)}`.execute(db);
}
