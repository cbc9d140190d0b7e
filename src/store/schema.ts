import type { Generated } from 'kysely';

/** Row shapes of every table, as Kysely sees them. One file so the whole schema reads at once. */
export interface Tables {
  audit_events: AuditEventRow;
  audit_chain_head: AuditChainHeadRow;
  audit_checkpoints: AuditCheckpointRow;
  api_tokens: ApiTokenRow;
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
}
