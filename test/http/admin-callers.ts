import type { Principal, Role } from '../../src/identity/index.js';
import type { TestServer } from '../support/server.js';

/** Someone calling the server: headers for a web session (cookie + CSRF) or a bearer token, or nothing. */
export interface Caller {
  name: string;
  userId: string | null;
  headers(method: string): Record<string, string>;
  /**
   * Follows a rotated session cookie (the server issues a new id and CSRF token at a privilege change) and, as the web UI
   * does, reads the session again for its new CSRF token.
   */
  sawCookie?(setCookie: string): Promise<void>;
}

const CLI_ADMIN: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

export const anonymous: Caller = { name: 'anonymous', userId: null, headers: () => ({}) };

/** A real user with a real web session (signed in with MFA unless told otherwise). */
export async function sessionCaller(ts: TestServer, username: string, roles: Role[], options: { mfa?: boolean } = {}): Promise<Caller> {
  const { users, sessions } = ts.services;
  const user = await users.create({ username, roles, source: 'local', kind: 'person' }, CLI_ADMIN);
  const snapshot = await users.sessionUser(user.id);
  if (!snapshot) throw new Error('no session user');
  const created = await sessions.create({ user: snapshot, mfa: options.mfa ?? true, method: 'password', context: {} });
  let cookieValue = created.cookieValue;
  let csrfToken = created.csrfToken;
  return {
    name: username,
    userId: user.id,
    async sawCookie(setCookie) {
      const m = /^webasset=([^;]+)/.exec(setCookie);
      if (!m || m[1] === '' || m[1] === cookieValue) return;
      cookieValue = m[1]!;
      const session = await fetch(`${ts.url}/api/auth/session`, { headers: { cookie: `webasset=${cookieValue}` } });
      if (session.ok) csrfToken = ((await session.json()) as { csrfToken: string }).csrfToken;
    },
    headers: (method) => ({
      cookie: `webasset=${cookieValue}`,
      ...(method === 'GET' || method === 'HEAD' ? {} : { 'x-csrf-token': csrfToken, origin: ts.url }),
    }),
  };
}

/** A bearer token: a bare role token, with the scopes given (or the role default). */
export async function tokenCaller(ts: TestServer, name: string, role: Role, scopes?: string[]): Promise<Caller> {
  const { token } = await ts.services.tokens.create({ name, role, scopes, createdBy: CLI_ADMIN });
  return { name, userId: null, headers: () => ({ authorization: `Bearer ${token}` }) };
}

export async function call(ts: TestServer, caller: Caller, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const headers: Record<string, string> = { ...caller.headers(method) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${ts.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  for (const setCookie of response.headers.getSetCookie()) await caller.sawCookie?.(setCookie);
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, json, text };
}

export const CLI = CLI_ADMIN;
