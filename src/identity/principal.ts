export const ROLES = ['admin', 'auditor', 'operator', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** A group the caller belongs to: ids for permissions, names for proxies' headers. */
export interface GroupRef {
  id: string;
  name: string;
}

/** Who is calling, once identity has answered. Built by identity only; every entry point passes it to access. */
export interface Principal {
  kind: 'user' | 'agent' | 'system';
  /** User id (uuid) for people and service accounts; `token:<id>` for a token without a service account. */
  id: string;
  name: string;
  /** Login name of a person or service account (unique); what ForwardAuth sends as X-Webasset-User. */
  username?: string | undefined;
  email?: string | null | undefined;
  /** Effective roles: the user's own and those of their groups. */
  roles: readonly Role[];
  groups: readonly GroupRef[];
  /** How the caller proved who they are. */
  via: 'session' | 'api_token' | 'cli';
  /** True when this sign-in used a second factor (our TOTP, or the provider's `amr`/`acr`). */
  mfa: boolean;
  /** Public id of the web session (never the cookie value). */
  sessionId?: string | undefined;
  /** The API token used, for bearer callers. */
  tokenId?: string | undefined;
  /** Token scopes (`mcp`, `api:read`, ...); undefined for sessions and the CLI (no scope limit). */
  scopes?: readonly string[] | undefined;
  /** For an agent token issued on behalf of an operator: that operator. The agent may do only what both may. */
  onBehalfOf?: { id: string; name: string; roles: readonly Role[]; groups: readonly GroupRef[] } | undefined;
}
