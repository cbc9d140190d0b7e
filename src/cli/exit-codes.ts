import { AppError, type ErrorCode } from '../core/index.js';
import { isConnectionError } from '../store/index.js';

/** PostgreSQL answers an operator can act on; the server's own words never carry the password. */
const DATABASE_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'cannot connect to the database (connection refused).',
  ENOTFOUND: 'cannot connect to the database (unknown host).',
  '28P01': 'PostgreSQL refused the credentials in DATABASE_URL.',
  '28000': 'PostgreSQL refused the connection (pg_hba.conf or role).',
  '3D000': 'the database named in DATABASE_URL does not exist.',
  '42501': 'the database role lacks a privilege the product needs (see docs/operations.md).',
};

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

const UNAVAILABLE: readonly ErrorCode[] = ['secret_source_unavailable', 'database_unavailable', 'audit_unavailable', 'embedded_database_locked', 'shutting_down', 'shared_state_unavailable', 'server_unreachable'];
const USAGE: readonly ErrorCode[] = ['config_invalid', 'vault_key_mismatch', 'invalid_request', 'invalid_cursor', 'page_size_too_large', 'not_found', 'password_rejected', 'service_account_role'];

/** The one place that turns an error into what the CLI prints and returns. */
export function describeCliError(error: unknown): { code: number; message: string } {
  if (error instanceof AppError) {
    const exit = USAGE.includes(error.code) ? EXIT.usage : UNAVAILABLE.includes(error.code) ? EXIT.unavailable : EXIT.failure;
    const details = Array.isArray(error.data)
      ? `\n${(error.data as Array<{ field?: string; problem?: string }>).map((d) => `  - ${d.field ?? ''}: ${d.problem ?? ''}`).join('\n')}`
      : '';
    return { code: exit, message: `error [${error.code}]: ${error.publicMessage}${details}` };
  }
  const pgCode = (error as { code?: unknown } | null)?.code;
  const known = typeof pgCode === 'string' ? DATABASE_ERRORS[pgCode] : undefined;
  if (known) return { code: EXIT.unavailable, message: `error [database_unavailable]: ${known}` };
  if (isConnectionError(error)) return { code: EXIT.unavailable, message: 'error [database_unavailable]: cannot reach the database.' };
  return { code: EXIT.failure, message: 'error [internal]: an unexpected error occurred; run with LOG_LEVEL=debug to see it.' };
}
