import type { Role } from '../identity/index.js';

/**
 * Which role may do what. The only place this is decided; every entry point
 * asks `decide()` (through `authorize()`), never a role name.
 *
 * `admin.policy.*` covers groups, memberships, assets and permissions;
 * `admin.users.*` the accounts. Auditors read the whole policy (who may use
 * what is evidence) but change nothing. Auditors and administrators replay
 * every recording (`recordings.replay`); only administrators put one under
 * legal hold or delete it early (`admin.recordings.write`).
 */
export const ROLE_PERMISSIONS = {
  admin: [
    'audit.read',
    'audit.export',
    'admin.users.read',
    'admin.users.write',
    'admin.policy.read',
    'admin.policy.write',
    'admin.sessions.read',
    'admin.sessions.revoke',
    'admin.tokens.read',
    'admin.tokens.write',
    'admin.vault.read',
    'admin.vault.write',
    'admin.recordings.write',
    'recordings.replay',
  ],
  auditor: ['audit.read', 'audit.export', 'admin.users.read', 'admin.policy.read', 'admin.sessions.read', 'recordings.replay'],
  operator: [],
  agent: [],
} as const satisfies Record<Role, readonly string[]>;

export type Permission = (typeof ROLE_PERMISSIONS)[keyof typeof ROLE_PERMISSIONS][number];

export const PERMISSIONS: readonly Permission[] = [...new Set(Object.values(ROLE_PERMISSIONS).flat())].sort();

/** What a grant on an asset allows: open a session, watch someone's live session, replay its recording. */
export const ASSET_ACTIONS = ['connect', 'watch', 'replay'] as const;
export type AssetAction = (typeof ASSET_ACTIONS)[number];

export function isAssetAction(value: string): value is AssetAction {
  return (ASSET_ACTIONS as readonly string[]).includes(value);
}

/**
 * Token scopes, as capabilities: a token may do only what one of its scopes
 * covers, whatever its role. `api:read` reads, `api:write` reads and changes
 * through /api, `mcp` uses assets through the MCP endpoint.
 */
export function scopesCovering(action: Permission | AssetAction | 'proxy.pass'): readonly string[] {
  // Passing a reverse proxy reads an upstream app; any API token may, if the host rule lets its account through.
  if (action === 'proxy.pass') return ['api:read', 'api:write'];
  if (isAssetAction(action)) return action === 'connect' ? ['mcp', 'api:write'] : ['mcp', 'api:read', 'api:write'];
  return isReadPermission(action) ? ['api:read', 'api:write'] : ['api:write'];
}

function isReadPermission(permission: Permission): boolean {
  return permission.endsWith('.read') || permission === 'audit.export' || permission === 'recordings.replay';
}
