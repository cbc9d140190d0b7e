import { base32Decode, totp, type Principal, type Role } from '../../src/identity/index.js';
import type { TestServer } from './server.js';

/** The CLI-like actor tests create users as. */
export const TEST_ADMIN: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } };
  text: string;
  /** Set-Cookie values by cookie name. */
  cookies: Record<string, string>;
}

/** A tiny browser: keeps cookies, sends same-origin JSON, remembers every answer for canary searches. */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly answers: string[] = [];
  csrf: string | undefined;
  constructor(
    readonly baseUrl: string,
    readonly headers: Record<string, string> = {},
  ) {}

  async call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.csrf && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const cookies: Record<string, string> = {};
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = decodeURIComponent(pair!.slice(eq + 1));
      cookies[name] = value;
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    this.answers.push(JSON.stringify([...res.headers.entries()]) + text);
    let parsed: HttpAnswer['body'] = {};
    try {
      parsed = JSON.parse(text) as HttpAnswer['body'];
    } catch {
      // Not JSON: the raw text is there.
    }
    if (typeof parsed.csrfToken === 'string') this.csrf = parsed.csrfToken;
    return { status: res.status, headers: res.headers, body: parsed, text, cookies };
  }
}

export interface LocalUser {
  id: string;
  username: string;
  password: string;
  secret: string | null;
  recoveryCodes: string[];
  enrolmentToken: string;
}

/** The token part of an enrolment URL. */
export function tokenOf(url: string): string {
  return new URL(url).searchParams.get('token')!;
}

/** A TOTP code for `secret` at `nowMs`. */
export function codeAt(secret: string, nowMs: number): string {
  return totp(base32Decode(secret), nowMs);
}

/**
 * A local user enrolled through the real HTTP routes: created in the repository, then the
 * enrolment link sets the password and (when MFA applies, or `totp` is asked) enrols TOTP.
 */
export async function enrolLocalUser(
  t: TestServer,
  input: { username: string; password: string; roles?: Role[]; mfaRequired?: boolean; totpAt?: number },
): Promise<LocalUser> {
  const user = await t.services.users.create({ username: input.username, roles: input.roles ?? [], source: 'local', mfaRequired: input.mfaRequired }, TEST_ADMIN);
  const link = await t.services.users.createEnrolmentLink(user.id, 'enrol', TEST_ADMIN);
  const token = tokenOf(link.url);
  const browser = new Browser(t.url);
  const set = await browser.call('POST', `/api/auth/enrolment/${token}/password`, { password: input.password });
  if (set.status !== 200) throw new Error(`password step: ${set.status} ${set.text}`);
  let secret: string | null = null;
  let recoveryCodes: string[] = [];
  if (set.body.done !== true) {
    const start = await browser.call('POST', `/api/auth/enrolment/${token}/totp/start`);
    if (start.status !== 200) throw new Error(`totp start: ${start.status} ${start.text}`);
    secret = start.body.secret as string;
    const confirm = await browser.call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: codeAt(secret, input.totpAt ?? Date.now()) });
    if (confirm.status !== 200) throw new Error(`totp confirm: ${confirm.status} ${confirm.text}`);
    recoveryCodes = confirm.body.recoveryCodes as string[];
  }
  return { id: user.id, username: user.username, password: input.password, secret, recoveryCodes, enrolmentToken: token };
}
