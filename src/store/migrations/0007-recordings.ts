import { sql, type Kysely } from 'kysely';

/**
 * Session recordings (module `recording/`): one row per recording, and one
 * row per chunk file written (its SHA-256, size and time span), inserted in
 * the same transaction that updates the recording's counters, after the file
 * was renamed into place. A deleted recording keeps its row (who, when, why);
 * its chunk rows go with its files.
 *
 * `search_text` holds the distinct URLs, titles and event targets,
 * newline-separated, for the text filter of the list.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE recordings (
      id                uuid PRIMARY KEY,
      session_id        uuid NOT NULL UNIQUE,
      asset_id          text NOT NULL,
      user_id           text NOT NULL,
      node_id           text NOT NULL,
      started_at_ms     bigint NOT NULL,
      ended_at_ms       bigint,
      state             text NOT NULL CHECK (state IN ('recording', 'sealed', 'deleted')),
      complete          boolean,
      incomplete_reason text,
      chunks            integer NOT NULL DEFAULT 0,
      bytes             bigint NOT NULL DEFAULT 0,
      frames            integer NOT NULL DEFAULT 0,
      events            integer NOT NULL DEFAULT 0,
      duration_ms       bigint NOT NULL DEFAULT 0,
      manifest_sha256   text,
      search_text       text NOT NULL DEFAULT '',
      retention_days    integer NOT NULL CHECK (retention_days BETWEEN 1 AND 36500),
      legal_hold        boolean NOT NULL DEFAULT false,
      deleted_at_ms     bigint,
      deleted_by        text,
      delete_reason     text,
      CHECK ((state = 'recording') = (complete IS NULL))
    )`.execute(db);
  await sql`
    CREATE TABLE recording_chunks (
      recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
      seq          integer NOT NULL,
      sha256       text NOT NULL,
      bytes        integer NOT NULL,
      start_ms     integer NOT NULL,
      end_ms       integer NOT NULL,
      frames       integer NOT NULL,
      events       integer NOT NULL,
      PRIMARY KEY (recording_id, seq)
    )`.execute(db);
  await sql`CREATE INDEX recordings_started ON recordings (started_at_ms DESC, id DESC) WHERE state <> 'deleted'`.execute(db);
  await sql`CREATE INDEX recordings_asset ON recordings (asset_id, started_at_ms DESC) WHERE state <> 'deleted'`.execute(db);
  await sql`CREATE INDEX recordings_user ON recordings (user_id, started_at_ms DESC) WHERE state <> 'deleted'`.execute(db);
  await sql`CREATE INDEX recordings_unsealed ON recordings (node_id) WHERE state = 'recording'`.execute(db);
  await sql`CREATE INDEX recordings_retention ON recordings (ended_at_ms) WHERE state = 'sealed' AND NOT legal_hold`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE recording_chunks`.execute(db);
  await sql`DROP TABLE recordings`.execute(db);
}
