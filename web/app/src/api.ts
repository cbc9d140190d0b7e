// The one way the UI talks to the product: same-origin JSON requests with the session cookie, and the
// session's CSRF token on every state change (docs/api.md, "Web sessions and route access").
import { hasMessage, language, t, waitText } from './i18n/index.js';

/** An error answer of the product: `{ error: { code, message, requestId, details? } }`, plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** Seconds from `Retry-After` (rate limits), when the answer had one. */
    readonly retryAfterSeconds: number | null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Remembers the token of the current web session (from `GET /api/auth/session` or a sign-in answer). */
export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? null;
}

async function send(method: string, path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
  });
}

async function read<T>(response: Response): Promise<T> {
  const text = await response.text();
  const json: unknown = text === '' ? null : JSON.parse(text);
  if (response.ok) return json as T;
  const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
  const retry = Number(response.headers.get('retry-after'));
  throw new ApiError(
    response.status,
    error?.code ?? 'internal',
    error?.message ?? `The server answered ${response.status}.`,
    error?.details,
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}

/**
 * One request. A state change refused with `csrf_failed` is tried once more with a fresh token: the
 * session may have been given a new id (a role change) since the token was read.
 */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  try {
    return await read<T>(await send(method, path, body));
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'csrf_failed' || method === 'GET') throw error;
    const session = await currentSession();
    if (!session) throw error;
    return read<T>(await send(method, path, body));
  }
}

/** Files as multipart/form-data (the browser writes the boundary) with the CSRF token; retried once on csrf_failed, as api(). */
export async function postFiles<T>(path: string, form: FormData): Promise<T> {
  const post = () =>
    fetch(path, { method: 'POST', headers: { accept: 'application/json', ...(csrfToken ? { 'x-csrf-token': csrfToken } : {}) }, body: form, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
  try {
    return await read<T>(await post());
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'csrf_failed' || !(await currentSession())) throw error;
    return read<T>(await post());
  }
}

export interface SessionUser {
  id: string;
  username: string | null;
  name: string;
  roles: string[];
}

export interface WhoAmI {
  user: SessionUser;
  mfa: boolean;
  csrfToken: string | null;
}

/** The signed-in user (and their CSRF token, kept for later requests), or null when signed out. */
export async function currentSession(): Promise<WhoAmI | null> {
  try {
    const who = await read<WhoAmI>(await send('GET', '/api/auth/session', undefined));
    setCsrfToken(who.csrfToken);
    return who;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw error;
  }
}

/** How this server lets people sign in (`GET /api/auth/options`). */
export interface SignInOptions {
  localAccounts: boolean;
  sso: boolean;
  lockout: { threshold: number; minutes: number } | null;
}

/** An answer of the sign-in steps. */
export interface SignInAnswer {
  signedIn: boolean;
  mfaRequired?: boolean;
  csrfToken?: string;
  user?: SessionUser;
  recoveryCodes?: string[];
}

/** `POST .../totp/start`: the seed, shown this once. */
export interface TotpStart {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

/** `GET /api/auth/enrolment/{token}`. */
export interface EnrolmentState {
  username?: string;
  displayName?: string;
  purpose?: string;
  passwordStep?: boolean;
  totpStep?: boolean;
  expiresAt?: string;
  done?: boolean;
}

/** An asset the caller may open (`GET /api/assets`). */
export interface Asset {
  id: string;
  name: string;
  url: string;
  available: boolean;
  reason: string | null;
}

/** A browser session (`/api/sessions`). */
export interface BrowserSession {
  id: string;
  assetId: string;
  state: 'starting' | 'logging_in' | 'active' | 'ended';
  /** `user`, `idle_timeout`, `max_duration`, `admin`, `login_failed`, ... (src/sessions/types.ts, END_REASONS). */
  endReason: string | null;
  /** The administrator's reason or the failed login step; never a secret value. */
  endMessage?: string | null;
  createdAt: string;
  activeAt?: string | null;
  endedAt?: string | null;
  /** Everyone's sessions (`?all=true`) name their owner: a person or an agent's service account. */
  userId?: string;
  principalKind?: string;
}

/** A query string of the filters that are set (empty values are left out: the API refuses empty parameters). */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * A message for a person: what went wrong and, for a rate limit, how long to wait. The server's public
 * messages are English: shown as they are in English (they can be more precise than the code), and
 * replaced by the catalogue's words for their code in the other languages.
 */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'rate_limited') {
      const wait = error.retryAfterSeconds ?? (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? null;
      return wait ? t('error.rateLimitedWait', { wait: waitText(wait) }) : t('error.rateLimited');
    }
    const key = `error.${error.code}`;
    if (language() !== 'en' && hasMessage(key)) return t(key);
    return error.message;
  }
  return t('error.unreachable');
}
