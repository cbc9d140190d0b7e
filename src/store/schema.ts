import type { Generated } from 'kysely';

/** Row shapes of every table, as Kysely sees them. One file so the whole schema reads at once. */
export interface Tables {
  audit_events: AuditEventRow;
  audit_chain_head: AuditChainHeadRow;
  audit_checkpoints: AuditCheckpointRow;
  api_tokens: ApiTokenRow;
  users: UserRow;
  user_recovery_codes: UserRecoveryCodeRow;
  user_enrolments: UserEnrolmentRow;
  groups: GroupRow;
  group_members: GroupMemberRow;
  assets: AssetRow;
  permissions: PermissionRow;
  web_sessions: WebSessionRow;
  vault_keys: VaultKeyRow;
  vault_entries: VaultEntryRow;
  vault_versions: VaultVersionRow;
  vault_references: VaultReferenceRow;
  browser_sessions: BrowserSessionRow;
  recordings: RecordingRow;
  recording_chunks: RecordingChunkRow;
}

export interface AuditEventRow {
  seq: number;
  event_id: string;
  time_ms: number;
  actor_kind: string;
  actor_id: string;
  actor_name: string | null;
  action: string;
  target_kind: string | null;
  target_id: string | null;
  outcome: string;
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  node_id: string;
  /** Canonical JSON text, exactly the bytes that were hashed. */
  details: string;
  prev_hash: string;
  hash: string;
}

export interface AuditChainHeadRow {
  id: number;
  seq: number;
  hash: string;
  checkpoint_seq: number;
  checkpoint_time_ms: number;
}

export interface AuditCheckpointRow {
  seq: number;
  hash: string;
  time_ms: number;
  node_id: string;
  key_id: string;
  signature: string;
}

export interface ApiTokenRow {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  created_at_ms: number;
  created_by: string;
  expires_at_ms: number | null;
  revoked_at_ms: number | null;
  last_used_at_ms: Generated<number | null>;
  /** JSON array of scope names (`mcp`, `api:read`, ...). */
  scopes: Generated<string[]>;
  /** The service account (a `users` row of kind `service`) the token acts as. */
  user_id: string | null;
  /** The operator an agent token acts for: it may then do only what both may. */
  on_behalf_of: string | null;
}

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  display_name: string;
  /** `person`, or `service` for an agent's service account. */
  kind: Generated<string>;
  /** Roles given to the user directly; groups may add more. */
  roles: Generated<string[]>;
  /** `local` or `oidc`. */
  source: string;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  password_hash: string | null;
  mfa_required: Generated<boolean>;
  totp_secret_sealed: string | null;
  totp_enabled_at_ms: number | null;
  /** Highest TOTP time step accepted so far: a code is accepted once. */
  totp_last_step: number | null;
  disabled_at_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
  last_login_at_ms: number | null;
}

export interface UserRecoveryCodeRow {
  user_id: string;
  code_hash: string;
  created_at_ms: number;
  used_at_ms: number | null;
}

export interface UserEnrolmentRow {
  token_hash: string;
  user_id: string;
  /** `enrol` (first password and TOTP) or `reset_mfa`. */
  purpose: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
}

export interface GroupRow {
  id: string;
  name: string;
  description: Generated<string>;
  /** Roles every member gets (a provider group mapped to `auditors` can grant `auditor`). */
  roles: Generated<string[]>;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface GroupMemberRow {
  group_id: string;
  user_id: string;
  /** `local` (admin API, import) or `oidc` (synced from the groups claim at each sign-in). */
  source: string;
  created_at_ms: number;
}

export interface AssetRow {
  id: string;
  name: string;
  url: string;
  allowed_hosts: Generated<string[]>;
  /** The rest of the definition (recipe, policy); the browser issue gives it a schema. */
  definition: Generated<Record<string, unknown>>;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PermissionRow {
  id: string;
  /** `group` or `user`. */
  subject_kind: string;
  subject_id: string;
  asset_id: string;
  /** Subset of `connect`, `watch`, `replay`. */
  actions: string[];
  /** Weekly window `{ timeZone, days: [1..7], start: 'HH:MM', end: 'HH:MM' }`, or null for always. */
  time_window: Record<string, unknown> | null;
  max_concurrent: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface WebSessionRow {
  /** SHA-256 of the cookie value: a database reader cannot take over a session. */
  id_hash: string;
  user_id: string;
  data: Record<string, unknown>;
  created_at_ms: number;
  last_seen_ms: number;
  expires_at_ms: number;
}

export interface VaultKeyRow {
  /** Public fingerprint of a key-encryption key. */
  kek_id: string;
  /** `current`, `next` (a rotation to it is in progress) or `retired`. */
  state: string;
  /** HMAC of the key: tells at start whether the configured key is this one. */
  check_value: string;
  /** Only for `next`: the key sealed under the current key, so every node can read rows already moved to it. */
  wrapped_key: string | null;
  created_at_ms: number;
  retired_at_ms: number | null;
}

export interface VaultEntryRow {
  id: string;
  current_version: number;
  /** Null: the default maximum age (90 days). */
  max_age_days: number | null;
  /** The version an age alert was raised for: once per stale version. */
  stale_alerted_version: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface VaultVersionRow {
  entry_id: string;
  version: number;
  /** Names of the fields present (never values). */
  fields: string[];
  kek_id: string;
  /** Base64 of the data key sealed by the key-encryption key `kek_id`. */
  wrapped_key: string;
  /** Base64 of the fields sealed by the data key. */
  ciphertext: string;
  set_by_kind: string;
  set_by_id: string;
  set_by_name: string | null;
  set_at_ms: number;
  superseded_at_ms: number | null;
}

export interface VaultReferenceRow {
  entry_id: string;
  /** `infisical`. */
  provider: string;
  /** Where the values are (project, environment, path, secret names); never a value. */
  reference: Record<string, unknown>;
  set_by_kind: string;
  set_by_id: string;
  set_by_name: string | null;
  set_at_ms: number;
}

export interface BrowserSessionRow {
  id: string;
  asset_id: string;
  /** The principal's id: a user id, or `token:<id>` for a role token. */
  user_id: string;
  /** `user` or `agent`. */
  principal_kind: string;
  /** `starting`, `logging_in`, `active` or `ended`. */
  state: string;
  /** Why it ended (`user`, `idle_timeout`, `login_failed`, ...); null while live. */
  end_reason: string | null;
  /** Which step failed, or the administrator's reason; never a value. */
  end_message: string | null;
  created_at_ms: number;
  active_at_ms: number | null;
  ended_at_ms: number | null;
  last_input_at_ms: number;
  /** The node whose browser holds the session. */
  node_id: string;
  /** Vault entry id of the credential injected (counted for the per-credential limit). */
  credential: string | null;
  /** An agent's session on behalf of an operator: that operator's user id (revoking their access ends it). */
  on_behalf_of: string | null;
}

export interface RecordingRow {
  id: string;
  session_id: string;
  asset_id: string;
  /** The principal's id, as in browser_sessions. */
  user_id: string;
  node_id: string;
  started_at_ms: number;
  ended_at_ms: number | null;
  /** `recording`, `sealed` or `deleted`. */
  state: string;
  /** Null while recording. */
  complete: boolean | null;
  incomplete_reason: string | null;
  chunks: Generated<number>;
  bytes: Generated<number>;
  frames: Generated<number>;
  events: Generated<number>;
  duration_ms: Generated<number>;
  manifest_sha256: string | null;
  /** Distinct URLs, titles and event targets, newline-separated, capped at 256 KiB. */
  search_text: Generated<string>;
  retention_days: number;
  legal_hold: Generated<boolean>;
  deleted_at_ms: number | null;
  deleted_by: string | null;
  delete_reason: string | null;
}

export interface RecordingChunkRow {
  recording_id: string;
  seq: number;
  sha256: string;
  bytes: number;
  start_ms: number;
  end_ms: number;
  frames: number;
  events: number;
}
