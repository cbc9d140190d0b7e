import { AppError, type ErrorCode } from '../core/index.js';
import { text, type ToolResult } from './results.js';

/** An error as a tool answers it: the stable code and the public message, never a stack, a raw exception text or a secret. */
export interface ToolFailure {
  code: ErrorCode;
  message: string;
  /** The audit outcome: a refusal (access, policy, scope, rate) is `denied`, anything else `failure`. */
  outcome: 'denied' | 'failure';
  /** Set for errors that are not ours (they are logged, redacted, and answered as `internal`). */
  unexpected: boolean;
}

const REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['forbidden', 'insufficient_scope', 'rate_limited', 'unauthenticated']);

/** The one mapping of errors to MCP tool errors (DESIGN.md: one mapper per edge). */
export function toToolFailure(error: unknown): ToolFailure {
  if (error instanceof AppError) {
    let message = error.publicMessage;
    const retry = (error.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (error.code === 'rate_limited' && typeof retry === 'number') message = `${message} Retry in ${retry} s.`;
    return { code: error.code, message, outcome: REFUSALS.has(error.code) ? 'denied' : 'failure', unexpected: false };
  }
  return { code: 'internal', message: AppErrorMessage.internal, outcome: 'failure', unexpected: true };
}

const AppErrorMessage = { internal: new AppError('internal').publicMessage };

export function errorResult(failure: ToolFailure): ToolResult {
  return { ...text(`error [${failure.code}]: ${failure.message}`), isError: true };
}

/** An error as a tool's answer, for an edge that answers a call itself (the HTTP relay of a call to another node). */
export function toolErrorResult(error: unknown): ToolResult {
  return errorResult(toToolFailure(error));
}
