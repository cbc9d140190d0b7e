import { sql, type Kysely } from 'kysely';

/**
 * Identity and access: people and service accounts, their groups, the asset
 * catalog and who may do what on it, and the server-side web sessions of the
 * embedded mode (with REDIS_URL, sessions live in Redis instead).
 *
 * Nothing secret is stored in a form that works when read: passwords are
 * argon2id hashes, recovery codes, enrolment links and session ids SHA-256
 * hashes, and TOTP seeds are sealed (AES-256-GCM) with the identity key.
 * Lists (roles, hosts, actions) are jsonb so one row reads at once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id                 uuid PRIMARY KEY,
      username           text NOT NULL UNIQUE,
      email              text,
      display_name       text NOT NULL,
      kind               text NOT NULL DEFAULT 'person',
      roles              jsonb NOT NULL DEFAULT '[]',
      source             text NOT NULL,
      oidc_issuer        text,
      oidc_subject       text,
      password_hash      text,
      mfa_required       boolean NOT NULL DEFAULT false,
      totp_secret_sealed text,
      totp_enabled_at_ms bigint,
      totp_last_step     bigint,
      disabled_at_ms     bigint,
      created_at_ms      bigint NOT NULL,
      updated_at_ms      bigint NOT NULL,
      last_login_at_ms   bigint,
      UNIQUE (oidc_issuer, oidc_subject)
    )`.execute(db);
  await sql`
    CREATE TABLE user_recovery_codes (
      user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      code_hash     char(64) NOT NULL,
      created_at_ms bigint NOT NULL,
      used_at_ms    bigint,
      PRIMARY KEY (user_id, code_hash)
    )`.execute(db);
  await sql`
    CREATE TABLE user_enrolments (
      token_hash    char(64) PRIMARY KEY,
      user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      purpose       text NOT NULL,
      created_at_ms bigint NOT NULL,
      expires_at_ms bigint NOT NULL,
      used_at_ms    bigint
    )`.execute(db);
  await sql`
    CREATE TABLE groups (
      id            uuid PRIMARY KEY,
      name          text NOT NULL UNIQUE,
      description   text NOT NULL DEFAULT '',
      roles         jsonb NOT NULL DEFAULT '[]',
      created_at_ms bigint NOT NULL,
      updated_at_ms bigint NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE group_members (
      group_id      uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
      user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      source        text NOT NULL,
      created_at_ms bigint NOT NULL,
      PRIMARY KEY (group_id, user_id)
    )`.execute(db);
  await sql`CREATE INDEX group_members_user ON group_members (user_id)`.execute(db);
  await sql`
    CREATE TABLE assets (
      id            text PRIMARY KEY,
      name          text NOT NULL,
      url           text NOT NULL,
      allowed_hosts jsonb NOT NULL DEFAULT '[]',
      definition    jsonb NOT NULL DEFAULT '{}',
      created_at_ms bigint NOT NULL,
      updated_at_ms bigint NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE permissions (
      id             uuid PRIMARY KEY,
      subject_kind   text NOT NULL,
      subject_id     uuid NOT NULL,
      asset_id       text NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
      actions        jsonb NOT NULL,
      time_window    jsonb,
      max_concurrent integer,
      created_at_ms  bigint NOT NULL,
      updated_at_ms  bigint NOT NULL,
      UNIQUE (subject_kind, subject_id, asset_id)
    )`.execute(db);
  await sql`CREATE INDEX permissions_asset ON permissions (asset_id)`.execute(db);
  await sql`
    CREATE TABLE web_sessions (
      id_hash       char(64) PRIMARY KEY,
      user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      data          jsonb NOT NULL,
      created_at_ms bigint NOT NULL,
      last_seen_ms  bigint NOT NULL,
      expires_at_ms bigint NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX web_sessions_user ON web_sessions (user_id)`.execute(db);
  await sql`CREATE INDEX web_sessions_expiry ON web_sessions (expires_at_ms)`.execute(db);
  // Agent tokens: scopes, the service account they act as, and whom they act for.
  await sql`ALTER TABLE api_tokens ADD COLUMN scopes jsonb NOT NULL DEFAULT '[]'`.execute(db);
  await sql`ALTER TABLE api_tokens ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE`.execute(db);
  await sql`ALTER TABLE api_tokens ADD COLUMN on_behalf_of uuid REFERENCES users (id) ON DELETE CASCADE`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_tokens DROP COLUMN on_behalf_of`.execute(db);
  await sql`ALTER TABLE api_tokens DROP COLUMN user_id`.execute(db);
  await sql`ALTER TABLE api_tokens DROP COLUMN scopes`.execute(db);
  for (const table of ['web_sessions', 'permissions', 'assets', 'group_members', 'groups', 'user_enrolments', 'user_recovery_codes', 'users']) {
    await sql`DROP TABLE ${sql.table(table)}`.execute(db);
  }
}
