import { sql, type Kysely } from 'kysely';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The audit trail. Events and checkpoints are append-only: a trigger refuses
 * UPDATE, DELETE and TRUNCATE for every role, including the owner.
 *
 * To also take the privilege away from the application role (recommended in
 * production, where the migration runs as an owner role and the service as
 * another), run as the owner:
 *
 *   REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM webasset_app;
 *   GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO webasset_app;
 *   GRANT SELECT, UPDATE ON audit_chain_head TO webasset_app;
 *
 * The role also needs USAGE on the schema and its grants on the other tables;
 * docs/operations.md has the complete, tested list. A superuser can still disable the
 * trigger; the hash chain and the signed checkpoints catch that.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_events (
      seq         bigint PRIMARY KEY,
      event_id    uuid NOT NULL UNIQUE,
      time_ms     bigint NOT NULL,
      actor_kind  text NOT NULL,
      actor_id    text NOT NULL,
      actor_name  text,
      action      text NOT NULL,
      target_kind text,
      target_id   text,
      outcome     text NOT NULL,
      source_ip   text,
      user_agent  text,
      request_id  text,
      node_id     text NOT NULL,
      details     text NOT NULL,
      prev_hash   char(64) NOT NULL,
      hash        char(64) NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX audit_events_time ON audit_events (time_ms)`.execute(db);
  await sql`CREATE INDEX audit_events_action ON audit_events (action text_pattern_ops, seq)`.execute(db);
  await sql`CREATE INDEX audit_events_actor ON audit_events (actor_id, seq)`.execute(db);
  await sql`CREATE INDEX audit_events_target ON audit_events (target_kind, target_id, seq)`.execute(db);

  await sql`
    CREATE TABLE audit_chain_head (
      id                 smallint PRIMARY KEY CHECK (id = 1),
      seq                bigint NOT NULL,
      hash               char(64) NOT NULL,
      checkpoint_seq     bigint NOT NULL,
      checkpoint_time_ms bigint NOT NULL
    )`.execute(db);
  await sql`INSERT INTO audit_chain_head VALUES (1, 0, ${GENESIS_HASH}, 0, 0)`.execute(db);

  await sql`
    CREATE TABLE audit_checkpoints (
      seq       bigint PRIMARY KEY,
      hash      char(64) NOT NULL,
      time_ms   bigint NOT NULL,
      node_id   text NOT NULL,
      key_id    text NOT NULL,
      signature text NOT NULL
    )`.execute(db);

  await sql`
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  for (const table of ['audit_events', 'audit_checkpoints']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()`.execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('the audit trail migration cannot be undone');
}
