import { ERROR_CODES, type ErrorCode } from './error-codes.js';

export interface AppErrorOptions {
  /** Message safe to show to a client. Defaults to the catalog's message. */
  publicMessage?: string;
  /** Private detail for logs; never sent to a client. Must not hold secrets. */
  detail?: string;
  /** Structured, client-safe data such as the list of invalid fields. */
  data?: unknown;
  cause?: unknown;
}

/**
 * The one error type that crosses module boundaries. Edges (HTTP, MCP, CLI)
 * map it in one place each; anything that is not an AppError becomes
 * `internal` there, so a raw exception message never reaches a client.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly publicMessage: string;
  readonly detail: string | undefined;
  readonly data: unknown;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = ERROR_CODES[code];
    super(options.detail ? `${code}: ${options.detail}` : code, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = entry.status;
    this.publicMessage = options.publicMessage ?? entry.message;
    this.detail = options.detail;
    this.data = options.data;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
