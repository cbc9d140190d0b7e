import { sql, type Kysely } from 'kysely';

/** API tokens for non-browser callers (auditors' scripts, agents). Only a SHA-256 of the token is stored. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE api_tokens (
      id              uuid PRIMARY KEY,
      name            text NOT NULL,
      role            text NOT NULL,
      token_hash      char(64) NOT NULL UNIQUE,
      created_at_ms   bigint NOT NULL,
      created_by      text NOT NULL,
      expires_at_ms   bigint,
      revoked_at_ms   bigint,
      last_used_at_ms bigint
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE api_tokens`.execute(db);
}
