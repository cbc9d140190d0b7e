import { sql, type Kysely } from 'kysely';

/**
 * The operator an agent's browser session acts for (`on_behalf_of`, the
 * user id of the token's operator; null otherwise), so that revoking that
 * operator's access ends the session on whichever node holds it, not only on
 * the node that handles the revocation.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE browser_sessions ADD COLUMN on_behalf_of text`.execute(db);
  await sql`CREATE INDEX browser_sessions_live_on_behalf ON browser_sessions (on_behalf_of) WHERE state <> 'ended' AND on_behalf_of IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX browser_sessions_live_on_behalf`.execute(db);
  await sql`ALTER TABLE browser_sessions DROP COLUMN on_behalf_of`.execute(db);
}
