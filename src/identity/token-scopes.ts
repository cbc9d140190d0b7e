/**
 * What an API token may be used for, whatever its account may do. The one
 * list of scopes: the admin API, the CLI and the docs take it from here; the
 * route guard and access's `scopesCovering` decide which one a call needs.
 */
export const TOKEN_SCOPES = {
  mcp: 'Use the MCP endpoint (/mcp): an agent driving governed sessions.',
  'api:read': 'Read through the REST API (GET under /api).',
  'api:write': 'Change through the REST API (POST, PUT, PATCH, DELETE under /api).',
} as const;

export type TokenScope = keyof typeof TOKEN_SCOPES;

export const TOKEN_SCOPE_NAMES = Object.keys(TOKEN_SCOPES) as TokenScope[];

export function isTokenScope(value: unknown): value is TokenScope {
  return typeof value === 'string' && Object.hasOwn(TOKEN_SCOPES, value);
}

/** Tokens from before scopes existed (and role tokens created without `scopes`) keep what they could do: the REST API. */
export const ROLE_TOKEN_DEFAULT_SCOPES: readonly TokenScope[] = ['api:read', 'api:write'];
