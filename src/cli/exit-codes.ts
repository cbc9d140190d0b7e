import { AppError, type ErrorCode } from '../core/index.js';

/** Exit codes of `webasset`, documented in `webasset --help`. */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is "no" (verification failed), or it failed at run time. */
  failure: 1,
  /** The command line or the configuration is wrong. */
  usage: 2,
  /** A needed service (database, audit trail) is unavailable or locked. */
  unavailable: 3,
} as const;

const UNAVAILABLE: readonly ErrorCode[] = ['database_unavailable', 'audit_unavailable', 'embedded_database_locked', 'shutting_down'];
const USAGE: readonly ErrorCode[] = ['config_invalid', 'invalid_request', 'invalid_cursor', 'page_size_too_large', 'not_found'];

/** The one place that turns an error into what the CLI prints and returns. */
export function describeCliError(error: unknown): { code: number; message: string } {
  if (error instanceof AppError) {
    const exit = USAGE.includes(error.code) ? EXIT.usage : UNAVAILABLE.includes(error.code) ? EXIT.unavailable : EXIT.failure;
    const details = Array.isArray(error.data)
      ? `\n${(error.data as Array<{ field?: string; problem?: string }>).map((d) => `  - ${d.field ?? ''}: ${d.problem ?? ''}`).join('\n')}`
      : '';
    return { code: exit, message: `error [${error.code}]: ${error.publicMessage}${details}` };
  }
  if (error && typeof error === 'object' && 'code' in error && (error as { code?: unknown }).code === 'ECONNREFUSED') {
    return { code: EXIT.unavailable, message: 'error [database_unavailable]: cannot connect to the database.' };
  }
  return { code: EXIT.failure, message: 'error [internal]: an unexpected error occurred; run with LOG_LEVEL=debug for details.' };
}
