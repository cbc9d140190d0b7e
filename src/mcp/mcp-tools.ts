import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RequestContext } from '../access/index.js';
import type { AuditTrail } from '../audit/index.js';
import { AppError } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import { errorResult, toToolFailure, type ToolFailure } from './errors.js';
import type { ToolPolicy } from './policy.js';
import type { AgentHandle, McpAccess, McpLogger, McpRateLimit, McpSessions } from './ports.js';
import { FILE_CHOOSER_DISMISSED_MEANWHILE, redactResult, redactText, withNote, type ToolResult } from './results.js';
import { TOOLS, type ToolDefinition, type ToolOutput } from './tools.js';

/** A tool as the protocol lists it. */
export interface ListedTool {
  name: string;
  description: string;
  inputSchema: { type: 'object'; [key: string]: unknown };
  annotations: { readOnlyHint: boolean; destructiveHint: boolean; openWorldHint: boolean };
}

/** The MCP tools, free of any transport: HTTP and stdio (through HTTP) call these. */
export interface McpTools {
  /** The tools `principal` may call (its roles' tool policy), in their stable order. */
  list(principal: Principal): ListedTool[];
  /**
   * Runs one tool call: rate limit, policy, input check, the session's handle, for a tool that acts
   * its audit record before it runs, the tool, its recording event and its audit record. Never throws.
   */
  call(principal: Principal, name: string, args: unknown, context: RequestContext): Promise<ToolResult>;
  /**
   * A `tools/call` whose params the protocol could not take (no tool name as a string, arguments
   * not an object): counted against the token's limit and audited as a failure (`invalid_request`),
   * never run. `name` is the tool name when it was a string. Never throws: the caller refuses anyway.
   */
  refuseMalformed(principal: Principal, name: string | null, context: RequestContext): Promise<void>;
}

export interface McpToolsDeps {
  sessions: McpSessions;
  access: McpAccess;
  trail: AuditTrail;
  policy: ToolPolicy;
  rateLimit: McpRateLimit;
  logger: McpLogger;
  /** Milliseconds, for durations; default performance.now. */
  now?: () => number;
  /** Ids that pair a call's `mcp.tool_started` with its `mcp.tool_called`; default randomUUID. */
  newId?: () => string;
}

const MASK = '[MASKED]';
const MAX_AUDIT_TEXT = 200;

export function createMcpTools(deps: McpToolsDeps): McpTools {
  const { sessions, access, trail, policy, rateLimit, logger } = deps;
  for (const name of ['start', 'list', 'end', 'agent'] as const) {
    if (typeof sessions?.[name] !== 'function') throw new TypeError(`createMcpTools: sessions.${name} is required`);
  }
  if (typeof trail?.record !== 'function') throw new TypeError('createMcpTools: an audit trail is required');
  const now = deps.now ?? (() => performance.now());
  const newId = deps.newId ?? randomUUID;
  const byName = new Map<string, ToolDefinition>(TOOLS.map((t) => [t.name, t]));
  const listed = new Map<string, ListedTool>(TOOLS.map((t) => [t.name, listing(t)]));

  /** The call's steps, in order; each failure leaves through one catch that maps, records and answers. */
  async function call(principal: Principal, name: string, rawArgs: unknown, context: RequestContext): Promise<ToolResult> {
    const started = now();
    const tool = byName.get(name);
    let handle: AgentHandle | null = null;
    let args: Record<string, unknown> | undefined;
    let output: ToolOutput | undefined;
    /** Set once the call's `mcp.tool_started` is written (a tool that acts): from then on it may have acted. */
    let callId: string | undefined;
    try {
      await countCall(principal);
      if (!tool) throw new AppError('invalid_request', { publicMessage: `There is no tool ${name.slice(0, 64)}; call tools/list.` });
      authorizeTool(principal, tool);
      args = parseArgs(tool, rawArgs);
      if (tool.onSession) handle = await sessions.agent(args.session as string, principal, context);
      if (!tool.readOnly) callId = await recordStart(principal, context, tool, args, handle);
      output = tellDismissedChoosers(await tool.run({ principal, context, args, handle, sessions, access }), handle);
      handle?.recordTool(tool.name, redactText(output.summary, handle.redact));
      await record(principal, context, name, 'success', started, { args, output, session: output.session ?? sessionOf(args), handle, callId });
      return redactResult(output.result, handle?.redact);
    } catch (error) {
      const failure = toToolFailure(error);
      if (failure.unexpected) logUnexpected(name, error, handle);
      try {
        handle?.recordTool(name, `${name} failed: ${failure.code}`);
        await record(principal, context, name, failure.outcome, started, { args, output, session: output?.session ?? sessionOf(args), handle, failure, callId });
      } catch (auditError) {
        // Fail closed: a call that cannot be recorded gets no answer but the refusal, and a truthful one.
        return errorResult(toToolFailure(callId === undefined ? auditError : outcomeUnrecorded(name, auditError)));
      }
      return redactResult(errorResult(failure), handle?.redact);
    }
  }

  /**
   * The audit record of a call that acts, before it runs (as sessions, the vault and the navigation
   * lock record before they act): if it cannot be written the call is refused and nothing has run.
   */
  async function recordStart(principal: Principal, context: RequestContext, tool: ToolDefinition, args: Record<string, unknown>, handle: AgentHandle | null): Promise<string> {
    const callId = newId();
    const session = sessionOf(args);
    await trail.record({
      actor: { kind: principal.kind, id: principal.id, name: principal.name },
      action: 'mcp.tool_started',
      outcome: 'success',
      target: session ? { kind: 'browser_session', id: session } : null,
      details: { tool: tool.name, args: auditArgs(tool.name, args, undefined, handle), session: session ?? null, callId, ...callerOf(principal) },
      sourceIp: context.sourceIp,
      userAgent: context.userAgent,
      requestId: context.requestId,
    });
    return callId;
  }

  async function refuseMalformed(principal: Principal, name: string | null, context: RequestContext): Promise<void> {
    const started = now();
    let failure = toToolFailure(new AppError('invalid_request', { publicMessage: 'Malformed tools/call params.' }));
    try {
      await countCall(principal);
    } catch (error) {
      failure = toToolFailure(error);
    }
    try {
      await record(principal, context, name, failure.outcome, started, { args: undefined, output: undefined, session: undefined, handle: null, failure });
    } catch (auditError) {
      // Nothing ran and the caller is refused either way; the log keeps what the trail could not.
      logger.warn({ tool: name?.slice(0, 64) ?? null, code: toToolFailure(auditError).code }, 'mcp: a malformed tools/call could not be audited');
    }
  }

  async function countCall(principal: Principal): Promise<void> {
    try {
      await rateLimit.check(principal.tokenId ? `token:${principal.tokenId}` : `user:${principal.id}`);
    } catch (error) {
      if (error instanceof AppError && error.code === 'rate_limited') {
        throw new AppError('rate_limited', { publicMessage: 'Too many tool calls with this token (WEBASSET_MCP_TOOL_RATE_LIMIT per minute).', data: error.data });
      }
      throw error;
    }
  }

  function authorizeTool(principal: Principal, tool: ToolDefinition): void {
    const refused = policy.refusedBy(principal, tool.name);
    if (refused) {
      const whose = refused.onBehalfOf ? 'of the operator this token acts for ' : '';
      throw new AppError('forbidden', { publicMessage: `The tool ${tool.name} is not allowed for the role ${refused.role} ${whose}(WEBASSET_MCP_TOOL_POLICY).`, detail: `tool policy of ${refused.role}` });
    }
  }

  async function record(
    principal: Principal,
    context: RequestContext,
    name: string | null,
    outcome: 'success' | 'failure' | 'denied',
    started: number,
    facts: {
      args: Record<string, unknown> | undefined;
      output: ToolOutput | undefined;
      session: string | undefined;
      handle: AgentHandle | null;
      failure?: ToolFailure;
      callId?: string | undefined;
    },
  ): Promise<void> {
    const session = facts.session;
    await trail.record({
      actor: { kind: principal.kind, id: principal.id, name: principal.name },
      action: 'mcp.tool_called',
      outcome,
      target: session ? { kind: 'browser_session', id: session } : null,
      details: {
        tool: name === null ? null : name.slice(0, 64),
        args: facts.args === undefined || name === null ? null : auditArgs(name, facts.args, facts.output, facts.handle),
        durationMs: Math.round(now() - started),
        session: session ?? null,
        ...(facts.failure ? { code: facts.failure.code } : {}),
        ...(facts.callId ? { callId: facts.callId } : {}),
        ...callerOf(principal),
      },
      sourceIp: context.sourceIp,
      userAgent: context.userAgent,
      requestId: context.requestId,
    });
  }

  function logUnexpected(tool: string, error: unknown, handle: AgentHandle | null): void {
    // Only the name and a redacted message: a raw exception may quote page text.
    const message = error instanceof Error ? error.message : String(error);
    logger.error({ tool, errorName: error instanceof Error ? error.name : typeof error, message: redactText(message, handle?.redact ?? undefined) }, 'mcp tool failed unexpectedly');
  }

  return {
    list: (principal) => TOOLS.filter((t) => policy.allows(principal, t.name)).map((t) => listed.get(t.name)!),
    call,
    refuseMalformed,
  };
}

/** The token and the operator it acts for, as every MCP audit record names them. */
function callerOf(principal: Principal): Record<string, string> {
  return { ...(principal.tokenId ? { tokenId: principal.tokenId } : {}), ...(principal.onBehalfOf ? { onBehalfOf: principal.onBehalfOf.id } : {}) };
}

/**
 * The after-record of a call that acts failed: its start is recorded and it ran (or tried to), so
 * the agent is told that, not that it was refused.
 */
function outcomeUnrecorded(tool: string, auditError: unknown): AppError {
  return new AppError('audit_unavailable', {
    publicMessage: `The ${tool} call ran (its start is recorded), but its outcome could not be recorded, so its result is withheld: the page or the session may have changed. Check before acting again.`,
    cause: auditError,
  });
}

/**
 * A file chooser the page opened by itself, outside the agent's actions, was dismissed (an agent
 * has no live view to answer it): the next result that succeeds says so once. Taken after the run,
 * so a chooser dismissed while it ran is told now, and one before a failed call later.
 */
function tellDismissedChoosers(output: ToolOutput, handle: AgentHandle | null): ToolOutput {
  if (!handle || handle.takeChoosersDismissed() === 0) return output;
  return { ...output, result: withNote(output.result, FILE_CHOOSER_DISMISSED_MEANWHILE), summary: `${output.summary} (file chooser dismissed outside an action)` };
}

function parseArgs(tool: ToolDefinition, raw: unknown): Record<string, unknown> {
  const parsed = tool.input.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  // Paths and rules only: zod's messages name what was expected, never the value sent.
  const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'arguments'}: ${i.message}`);
  throw new AppError('invalid_request', { publicMessage: `Invalid arguments for ${tool.name}: ${problems.join('; ')}.` });
}

function sessionOf(args: Record<string, unknown> | undefined): string | undefined {
  return typeof args?.session === 'string' ? args.session : undefined;
}

/**
 * The arguments as the audit record keeps them: `text` masked when it went
 * (or may have gone) into a password field, always for fill_credential;
 * long text cut; the session's secret values redacted.
 */
function auditArgs(tool: string, args: Record<string, unknown>, output: ToolOutput | undefined, handle: AgentHandle | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (key === 'text' && (tool === 'fill_credential' || (tool === 'type' && output?.field !== 'text'))) {
      out[key] = MASK;
    } else if (typeof value === 'string') {
      out[key] = auditText(value, handle);
    } else if (Array.isArray(value)) {
      // select_option's values: an agent's guess at a secret in an option is redacted like any other argument.
      out[key] = value.map((v: unknown) => (typeof v === 'string' ? auditText(v, handle) : v));
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Redacted before it is cut: a secret cut in two at the limit would no longer be recognized. */
function auditText(value: string, handle: AgentHandle | null): string {
  const redacted = redactText(value, handle?.redact ?? undefined);
  return redacted.length > MAX_AUDIT_TEXT ? `${redacted.slice(0, MAX_AUDIT_TEXT)}…` : redacted;
}

function listing(tool: ToolDefinition): ListedTool {
  const schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: { ...schema, type: 'object' },
    annotations: { readOnlyHint: tool.readOnly, destructiveHint: tool.name === 'close_session', openWorldHint: false },
  };
}
