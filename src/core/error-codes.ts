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
  csrf_failed: { status: 403, message: 'The request failed the cross-site request forgery check; reload the page and try again.' },
  insufficient_scope: { status: 403, message: 'The token does not have the scope this request needs.' },
  not_found: { status: 404, message: 'Not found.' },
  conflict: { status: 409, message: 'The request conflicts with the current state (for example, a duplicate name).' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type.' },
  rate_limited: { status: 429, message: 'Too many attempts; try again later.' },
  return_to_invalid: { status: 400, message: 'The return address must be a path on this site.' },
  sso_failed: { status: 400, message: 'Single sign-on failed or expired; start the sign-in again.' },
  account_disabled: { status: 403, message: 'This account is disabled.' },
  mfa_required: { status: 403, message: 'Your role requires a second factor at the identity provider; sign in there with multi-factor authentication.' },
  sso_not_configured: { status: 404, message: 'Single sign-on is not configured.' },
  invalid_credentials: { status: 401, message: 'The username or password is wrong, or the account cannot sign in.' },
  login_expired: { status: 401, message: 'The sign-in step expired or is unknown; sign in again.' },
  mfa_enrolment_required: { status: 403, message: 'This account must enrol a second factor (TOTP) before it can sign in.' },
  enrolment_link_invalid: { status: 404, message: 'This enrolment link is invalid, expired or already used.' },
  user_exists: { status: 409, message: 'A user with this username already exists.' },
  last_admin: { status: 409, message: 'This would leave no enabled administrator.' },
  mfa_already_enrolled: { status: 409, message: 'A second factor is already enrolled; ask an administrator to reset it.' },
  audit_event_invalid: { status: 500, message: 'An internal error occurred.' },
  audit_unavailable: { status: 503, message: 'The audit trail cannot record right now; the action was refused.' },
  database_unavailable: { status: 503, message: 'The database is unavailable.' },
  shared_state_unavailable: { status: 503, message: 'The shared state is unavailable.' },
  sso_unavailable: { status: 503, message: 'The identity provider cannot be reached; try again shortly.' },
  shutting_down: { status: 503, message: 'The server is shutting down.' },
  server_busy: { status: 503, message: 'The server is overloaded; try again shortly.' },
  config_invalid: { status: 500, message: 'The configuration is invalid.' },
  embedded_database_locked: { status: 500, message: 'The embedded database is in use by another process.' },
  internal: { status: 500, message: 'An internal error occurred.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
