import type { Principal } from '../src/identity/index.js';
import type { ProductNode } from './product-node.js';

/** The administrator benchmarks set their fixtures up as (users, assets, grants, vault entries). */
export const BENCH_ADMIN: Principal = { kind: 'user', id: 'bench-admin', name: 'Bench admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

/** An operator with a web session (MFA done), calling the REST API and the live view as a browser would. */
export interface Caller {
  userId: string;
  cookie: string;
  csrf: string;
  origin: string;
}

/** Creates an operator and signs them in through the product's own session service (no password round trip: not what is measured). */
export async function signInOperator(node: ProductNode, username: string): Promise<Caller> {
  const { users, sessions } = node.services;
  const user = await users.create({ username, roles: ['operator'], source: 'local', kind: 'person' }, BENCH_ADMIN);
  const snapshot = await users.sessionUser(user.id);
  if (!snapshot) throw new Error('bench: no session user');
  const created = await sessions.create({ user: snapshot, mfa: true, method: 'password', context: {} });
  return { userId: user.id, cookie: `webasset=${created.cookieValue}`, csrf: created.csrfToken, origin: node.url };
}

/** One API call with the caller's cookie (and CSRF token and Origin for a change); the body as text and, when it parses, JSON. */
export async function api(caller: Caller, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const headers: Record<string, string> = { cookie: caller.cookie };
  if (method !== 'GET') Object.assign(headers, { 'x-csrf-token': caller.csrf, origin: caller.origin });
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${caller.origin}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}
