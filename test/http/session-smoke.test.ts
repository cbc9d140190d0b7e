import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { insertSessionUser } from '../support/session-user.js';

describe('route access smoke', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.stop());

  it('a session cookie identifies the caller and a CSRF token is needed to log out', async () => {
    const user = await insertSessionUser(t.services.database.db, { roles: ['auditor'] });
    const { cookieValue, csrfToken } = await t.services.sessions.create({ user, mfa: true, method: 'password', context: {} });
    const cookie = `webasset=${cookieValue}`;
    const who = await fetch(`${t.url}/api/auth/session`, { headers: { cookie } });
    expect(who.status).toBe(200);
    const body = (await who.json()) as { csrfToken: string; user: { id: string } };
    expect(body).toMatchObject({ csrfToken, user: { id: user.id } });
    expect((await fetch(`${t.url}/api/audit?limit=1`, { headers: { cookie } })).status).toBe(200);
    const noToken = await fetch(`${t.url}/api/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(noToken.status).toBe(403);
    const out = await fetch(`${t.url}/api/auth/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(out.status).toBe(200);
    expect((await fetch(`${t.url}/api/auth/session`, { headers: { cookie } })).status).toBe(401);
  });
});
