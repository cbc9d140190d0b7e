import { sql, type Kysely } from 'kysely';

/**
 * Governed browser sessions (module `sessions/`): one row per session, from
 * the start request to its end, kept afterwards as history.
 *
 * The partial indexes serve the concurrency counts taken under a lock when a
 * session starts (live sessions of an asset, of a credential, of a user on an
 * asset) and the sweep of a node's own live sessions at its start.
 * `user_id` is text: a role token without a service account acts as
 * `token:<id>`. No foreign key to assets: the history outlives the catalog.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE browser_sessions (
      id               uuid PRIMARY KEY,
      asset_id         text NOT NULL,
      user_id          text NOT NULL,
      principal_kind   text NOT NULL,
      state            text NOT NULL CHECK (state IN ('starting', 'logging_in', 'active', 'ended')),
      end_reason       text,
      end_message      text,
      created_at_ms    bigint NOT NULL,
      active_at_ms     bigint,
      ended_at_ms      bigint,
      last_input_at_ms bigint NOT NULL,
      node_id          text NOT NULL,
      credential       text,
      CHECK ((state = 'ended') = (ended_at_ms IS NOT NULL AND end_reason IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX browser_sessions_live_asset ON browser_sessions (asset_id, user_id) WHERE state <> 'ended'`.execute(db);
  await sql`CREATE INDEX browser_sessions_live_credential ON browser_sessions (credential) WHERE state <> 'ended' AND credential IS NOT NULL`.execute(db);
  await sql`CREATE INDEX browser_sessions_live_node ON browser_sessions (node_id) WHERE state <> 'ended'`.execute(db);
  await sql`CREATE INDEX browser_sessions_user ON browser_sessions (user_id, created_at_ms)`.execute(db);
  await sql`CREATE INDEX browser_sessions_created ON browser_sessions (created_at_ms)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE browser_sessions`.execute(db);
}
