export const ROLES = ['admin', 'auditor', 'operator', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, once identity has answered. */
export interface Principal {
  kind: 'user' | 'agent' | 'system';
  id: string;
  name: string;
  roles: readonly Role[];
  /** How the caller proved who they are. */
  via: 'api_token' | 'cli';
}
