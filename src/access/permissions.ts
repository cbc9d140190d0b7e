import type { Role } from '../identity/index.js';

/** Which role may do what. The only place this is decided; every entry point asks `authorize()`. */
export const ROLE_PERMISSIONS = {
  admin: ['audit.read', 'audit.export'],
  auditor: ['audit.read', 'audit.export'],
  operator: [],
  agent: [],
} as const satisfies Record<Role, readonly string[]>;

export type Permission = (typeof ROLE_PERMISSIONS)[keyof typeof ROLE_PERMISSIONS][number];
