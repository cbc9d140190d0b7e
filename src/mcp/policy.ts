import type { McpToolPolicyConfig } from '../config/index.js';
import type { Principal, Role } from '../identity/index.js';
import { TOOL_NAMES, type ToolName } from './tool-names.js';

/** Which tools a caller may call: the per-role allow and deny lists of WEBASSET_MCP_TOOL_POLICY. */
export interface ToolPolicy {
  allows(principal: Principal, tool: ToolName): boolean;
  /** The role whose entry refuses the tool (for the audit record), or null when allowed. */
  refusedBy(principal: Principal, tool: ToolName): { role: Role; onBehalfOf: boolean } | null;
}

/**
 * A caller may call a tool when every one of its roles allows it (a role
 * without an `allow` list allows every tool it does not deny), and, for a
 * token acting on behalf of an operator, every one of the operator's roles
 * too: both must be allowed. A role with no entry allows every tool.
 */
export function createToolPolicy(config: McpToolPolicyConfig): ToolPolicy {
  const known = new Set<string>(TOOL_NAMES);
  for (const [role, entry] of Object.entries(config)) {
    for (const name of [...(entry?.allow ?? []), ...(entry?.deny ?? [])]) {
      if (!known.has(name)) throw new TypeError(`mcp tool policy of ${role} names an unknown tool ${name}`);
    }
  }
  const roleAllows = (role: Role, tool: ToolName): boolean => {
    const entry = config[role];
    if (!entry) return true;
    if (entry.deny.includes(tool)) return false;
    return entry.allow === undefined || entry.allow.includes(tool);
  };
  const refusedBy = (principal: Principal, tool: ToolName) => {
    for (const role of principal.roles) if (!roleAllows(role, tool)) return { role, onBehalfOf: false };
    for (const role of principal.onBehalfOf?.roles ?? []) if (!roleAllows(role, tool)) return { role, onBehalfOf: true };
    return null;
  };
  return {
    refusedBy,
    allows: (principal, tool) => refusedBy(principal, tool) === null,
  };
}
