import type { GroupRef, Role } from './principal.js';

/** Who a web session belongs to: a snapshot taken at sign-in, refreshed when memberships or roles change. */
export interface SessionUser {
  id: string;
  username: string;
  name: string;
  email: string | null;
  kind: 'person' | 'service';
  /** Effective roles (own and groups'). */
  roles: Role[];
  groups: GroupRef[];
}

/**
 * One web session as stored (JSON): never the cookie value, which only the
 * browser holds; records are keyed by its SHA-256.
 */
export interface SessionRecord {
  /** Public id: in audit events, listings and revocation; stays the same across rotations. */
  sessionId: string;
  userId: string;
  user: SessionUser;
  mfa: boolean;
  method: 'password' | 'oidc';
  oidc?: { idTokenHint?: string | undefined; sid?: string | undefined } | undefined;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** Creation time plus the absolute lifetime in force then. */
  absoluteExpiresAt: number;
  sourceIp: string | null;
  userAgent: string | null;
  /** Set when the user's roles or groups changed: the next request gets a new session id. */
  rotatePending?: boolean | undefined;
}

/**
 * Where web sessions live: the `web_sessions` table (embedded mode, or
 * PostgreSQL without Redis) or Redis. Both satisfy the same suite
 * (test/identity/web-sessions.suite.ts). No backend caches: every node reads
 * the one copy, so a revocation holds everywhere at once.
 */
export interface SessionStore {
  readonly kind: 'database' | 'redis' | 'memory';
  /** `expiresAt`: when the record may be dropped (the earlier of the idle and absolute ends). */
  insert(idHash: string, record: SessionRecord, expiresAt: number): Promise<void>;
  get(idHash: string): Promise<SessionRecord | null>;
  /** Caching stores only: the record when it is in memory and fresh, else undefined (never a store read). */
  peek?(idHash: string): SessionRecord | undefined;
  /** Replaces a live record (last-seen, snapshot); false when it is gone, and then nothing is written (no resurrection). */
  update(idHash: string, record: SessionRecord, expiresAt: number): Promise<boolean>;
  /** Removes a record; returns it only to the one caller that removed it (so its end is audited once). */
  remove(idHash: string): Promise<SessionRecord | null>;
  /** Moves a record to a new key; false (and nothing moved) when the old one is gone. */
  move(oldHash: string, newHash: string, record: SessionRecord, expiresAt: number): Promise<boolean>;
  findBySessionId(sessionId: string): Promise<{ idHash: string; record: SessionRecord } | null>;
  listByUser(userId: string): Promise<Array<{ idHash: string; record: SessionRecord }>>;
  /** Removes records whose `expiresAt` has passed; returns them (backends that expire by themselves return []). */
  sweep(now: number): Promise<SessionRecord[]>;
}
