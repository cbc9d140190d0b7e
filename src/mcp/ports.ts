import type { AssetSummary, RequestContext } from '../access/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { SessionRecord } from '../sessions/index.js';

/**
 * What the MCP tools need from the rest of the product, declared here by the
 * code that uses it (the sessions module and the browser provide it; the
 * shapes are those of the pinned contract of issue 7).
 */

/** Values a session's results must never contain; the browser module applies them, the tools apply them once more. */
export interface RedactionSource {
  values(): readonly Buffer[];
}

/** The page an action left the tab on (already redacted). */
export interface AgentPage {
  url: string;
  title: string;
}

export interface AgentActionResult {
  page: AgentPage;
  effect: 'navigated' | 'changed' | 'none';
  /** The element acted on, described without its value (e.g. `textbox "Amount"`). */
  target?: string | undefined;
  /** For type and fill: whether the field was a password field (its text is then masked in the audit record). */
  field?: 'password' | 'text' | undefined;
}

export interface AgentSnapshot {
  page: AgentPage;
  text: string;
  cursor?: string | undefined;
  tabs: number;
}

/** The browser tools of one session (src/browser's AgentControls). */
export interface AgentControls {
  snapshot(options: { redact: RedactionSource; cursor?: string; maxChars?: number }): Promise<AgentSnapshot>;
  click(ref: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  type(ref: string, text: string, options: { redact: RedactionSource; submit?: boolean }): Promise<AgentActionResult>;
  selectOption(ref: string, values: readonly string[], options: { redact: RedactionSource }): Promise<AgentActionResult>;
  pressKey(key: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  hover(ref: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  navigate(url: string, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  goBack(options: { redact: RedactionSource }): Promise<AgentActionResult>;
  waitFor(condition: { text?: string; ref?: string; url?: string }, timeoutMs: number, options: { redact: RedactionSource }): Promise<AgentActionResult>;
  screenshot(options: { redact: RedactionSource }): Promise<{ jpeg: Buffer; width: number; height: number; page: AgentPage }>;
}

/** The owner's handle on a live session for tool calls (src/sessions' AgentHandle). */
export interface AgentHandle {
  record: SessionRecord;
  controls: AgentControls;
  redact: RedactionSource;
  /** Types the vault's `field` (username, password, totp, or an extra field) into `ref`; the value never comes back. */
  fillCredential(ref: string, field: string, context?: RequestContext): Promise<AgentActionResult>;
  /** A recording event `{ type: 'tool', tool, summary }`; the summary never holds a secret. */
  recordTool(tool: string, summary: string): void;
}

/** Governed browser sessions as the tools use them. */
export interface McpSessions {
  start(principal: Principal, assetId: string, context?: RequestContext): Promise<SessionRecord>;
  list(principal: Principal, options?: { all?: boolean | undefined }, context?: RequestContext): Promise<SessionRecord[]>;
  end(id: string, principal: Principal, options?: { message?: string | undefined }, context?: RequestContext): Promise<SessionRecord>;
  agent(id: string, principal: Principal, context?: RequestContext): Promise<AgentHandle>;
}

/** The assets a caller may open (access decides). */
export interface McpAccess {
  visibleAssets(principal: Principal, action: 'connect'): Promise<AssetSummary[]>;
}

/** Counts one tool call of a token; rejects `rate_limited` past the limit (cluster's rate limiter). */
export interface McpRateLimit {
  check(subject: string): Promise<unknown>;
}

export interface McpLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export type { AuditTrail };
