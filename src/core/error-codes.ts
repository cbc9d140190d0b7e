/**
 * The catalog of stable machine error codes. A code is never renamed or reused
 * once released; `docs/errors.md` lists each one and a test keeps the two equal.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, message: 'The request is invalid.' },
  invalid_cursor: { status: 400, message: 'The pagination cursor is invalid.' },
  page_size_too_large: { status: 400, message: 'The requested page size exceeds the maximum.' },
  password_rejected: { status: 400, message: 'The password does not meet the password policy.' },
  unauthenticated: { status: 401, message: 'Authentication is required.' },
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  not_found: { status: 404, message: 'Not found.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type.' },
  rate_limited: { status: 429, message: 'Too many attempts; try again later.' },
  audit_event_invalid: { status: 500, message: 'An internal error occurred.' },
  audit_unavailable: { status: 503, message: 'The audit trail cannot record right now; the action was refused.' },
  database_unavailable: { status: 503, message: 'The database is unavailable.' },
  shared_state_unavailable: { status: 503, message: 'The shared state is unavailable.' },
  shutting_down: { status: 503, message: 'The server is shutting down.' },
  config_invalid: { status: 500, message: 'The configuration is invalid.' },
  embedded_database_locked: { status: 500, message: 'The embedded database is in use by another process.' },
  internal: { status: 500, message: 'An internal error occurred.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
