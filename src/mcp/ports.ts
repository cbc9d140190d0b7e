import type { AssetSummary } from '../access/index.js';
import type { BrowserSessions } from '../sessions/index.js';

/**
 * What the MCP tools need from the rest of the product, named by the code
 * that uses it: the sessions module's lifecycle and owner handle (the agent
 * controls and the redaction source come with the handle, from src/browser).
 */
export type { AgentActionResult, AgentControls, AgentPage, AgentSnapshot, RedactionSource } from '../browser/index.js';
export type { AgentHandle } from '../sessions/index.js';

/** Governed browser sessions as the tools use them: start, list, end, and the owner's handle. */
export type McpSessions = Pick<BrowserSessions, 'start' | 'list' | 'end' | 'agent'>;

/** The assets a caller may open (access decides). */
export interface McpAccess {
  visibleAssets(principal: Parameters<BrowserSessions['start']>[0], action: 'connect'): Promise<AssetSummary[]>;
}

/** Counts one tool call of a token; rejects `rate_limited` past the limit (cluster's rate limiter). */
export interface McpRateLimit {
  check(subject: string): Promise<unknown>;
}

export interface McpLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}
