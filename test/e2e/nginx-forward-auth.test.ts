import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSECURE_SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { nginxMissingReason, startEchoUpstream, startNginx, type EchoUpstream, type RunningNginx } from '../support/nginx.js';
import { signedInUser } from '../support/forward-auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A real nginx (Debian package) in front of a test upstream, asking our GET /authz before every
// request (auth_request), configured as README "ForwardAuth" says. What reaches the upstream,
// and what the client sees, is checked from the outside.

const SIGN_IN = 'https://gw.example.com/login';
const FORWARD_AUTH = {
  signInUrl: SIGN_IN,
  rules: [
    { host: 'app.example.com', groups: ['ops'] },
    { host: 'admin.example.com', roles: ['admin'] },
  ],
};

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** node:http, because fetch() does not let a caller choose the Host header. */
function get(nginx: RunningNginx, host: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${nginx.url}${path}`, { headers: { host, connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const missing = nginxMissingReason();

describe.skipIf(missing !== undefined)(`nginx auth_request in front of an upstream${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let t: TestServer;
  let upstream: EchoUpstream;
  let nginx: RunningNginx;
  let olga: { cookie: string; sessionId: string };
  let noEmail: { cookie: string; sessionId: string };

  async function signIn(username: string, email: string | null, groups: string[]) {
    const session = await signedInUser(t, { username, email, roles: ['operator'], groups });
    // nginx listens on plain http here, so the browser holds the cookie without the __Host- prefix.
    return { cookie: `${INSECURE_SESSION_COOKIE}=${session.cookieValue}`, sessionId: session.sessionId };
  }

  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: 'loopback', WEBASSET_FORWARD_AUTH: JSON.stringify(FORWARD_AUTH) });
    upstream = await startEchoUpstream();
    nginx = await startNginx({ authzUrl: t.url, upstreamUrl: upstream.url });
    olga = await signIn('olga', 'olga@example.com', ['ops', 'Site Reliability']);
    noEmail = await signIn('nemo', null, ['ops']);
  });
  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    await t?.stop();
  });

  it('passes a signed-in member to the upstream with the identity headers', async () => {
    const before = upstream.requests.length;
    const res = await get(nginx, 'app.example.com', '/reports?q=1', { cookie: olga.cookie });
    expect(res.status, nginx.errorLog()).toBe(200);
    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/reports?q=1');
    expect(seen[0]!.headers).toMatchObject({
      host: 'app.example.com',
      'x-webasset-user': 'olga',
      'x-webasset-email': 'olga%40example.com',
      'x-webasset-groups': 'Site%20Reliability,ops',
    });
  });

  it('redirects an anonymous browser to sign in, with a return URL to the page it wanted', async () => {
    const before = upstream.requests.length;
    const res = await get(nginx, 'app.example.com', '/reports/42?tab=a%2Fb');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(SIGN_IN);
    expect(location.searchParams.get('returnTo')).toBe('http://app.example.com/reports/42?tab=a%2Fb');
    expect(upstream.requests.length).toBe(before);
  });

  it('gives a host without an allowed return URL a sign-in redirect without one', async () => {
    const res = await get(nginx, 'evil.example.net', '/phish');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(SIGN_IN);
  });

  it('strips identity headers a client forges, signed in or not', async () => {
    const forged = { 'x-webasset-user': 'root', 'x-webasset-email': 'root@example.com', 'x-webasset-groups': 'admins' };
    const before = upstream.requests.length;
    const anonymous = await get(nginx, 'app.example.com', '/', forged);
    expect(anonymous.status).toBe(302);
    expect(upstream.requests.length).toBe(before);

    const res = await get(nginx, 'app.example.com', '/', { cookie: noEmail.cookie, ...forged });
    expect(res.status).toBe(200);
    const seen = upstream.requests.at(-1)!;
    expect(seen.headers['x-webasset-user']).toBe('nemo');
    expect(seen.headers['x-webasset-groups']).toBe('ops');
    // nemo has no email: the forged one must not survive either.
    expect(seen.headers['x-webasset-email']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain('root');
  });

  it('answers 403 for a host whose rule the user does not meet, and for a host without a rule', async () => {
    const before = upstream.requests.length;
    expect((await get(nginx, 'admin.example.com', '/', { cookie: olga.cookie })).status).toBe(403);
    expect((await get(nginx, 'other.example.com', '/', { cookie: olga.cookie })).status).toBe(403);
    expect(upstream.requests.length).toBe(before);
    const page = await t.services.audit.reader.search({ actionPrefix: 'auth.denied' }, { limit: 10, order: 'desc' });
    expect(page.events.map((e) => e.targetId)).toEqual(expect.arrayContaining(['admin.example.com', 'other.example.com']));
  });

  it('sends a revoked session back to sign in on the next request', async () => {
    const carol = await signIn('carol', null, ['ops']);
    expect((await get(nginx, 'app.example.com', '/', { cookie: carol.cookie })).status).toBe(200);
    await t.services.sessions.revoke(carol.sessionId, null, 'test');
    const res = await get(nginx, 'app.example.com', '/', { cookie: carol.cookie });
    expect(res.status).toBe(302);
  });
});
