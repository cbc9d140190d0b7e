import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../src/mcp/index.js';
import { MCP_TOOL_NAMES } from '../../src/config/index.js';
import { sessionCaller } from '../http/admin-callers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, agentToken, auditRows, connect, rawPost, textOf } from './support.js';

const PUBLIC_URL_ORIGIN = 'https://gateway.example.test';

describe('/mcp: transport, bearer tokens, metadata, Origin, policy, rate limit', () => {
  let ts: TestServer;
  let mcpUrl: string;
  let agent: Awaited<ReturnType<typeof agentToken>>;

  beforeAll(async () => {
    ts = await startTestServer({
      WEBASSET_PUBLIC_URL: `${PUBLIC_URL_ORIGIN}/`,
      WEBASSET_MCP_ALLOWED_ORIGINS: 'http://localhost:6274',
      WEBASSET_MCP_TOOL_POLICY: JSON.stringify({ operator: { deny: ['fill_credential'] }, auditor: { allow: ['list_assets', 'list_sessions'] } }),
    });
    mcpUrl = `${ts.url}/mcp`;
    agent = await agentToken(ts, 'auth-agent');
    await ts.services.assets.create({ id: 'granted', name: 'Granted portal', url: 'https://granted.example.com/' }, ADMIN);
    await ts.services.assets.create({ id: 'elsewhere', name: 'Not granted', url: 'https://elsewhere.example.com/' }, ADMIN);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'granted', actions: ['connect'] }, ADMIN);
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('lists exactly the tools of the issue, with object input schemas and static descriptions', async () => {
    const client = await connect(ts.url, agent.token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'list_assets', 'open_session', 'list_sessions', 'close_session', 'snapshot', 'click', 'type', 'select_option',
      'press_key', 'hover', 'navigate', 'go_back', 'wait_for', 'screenshot', 'fill_credential',
    ]);
    expect([...TOOL_NAMES]).toEqual([...MCP_TOOL_NAMES]);
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.description?.length, tool.name).toBeGreaterThan(20);
    }
    const type = tools.find((t) => t.name === 'type')!;
    expect(type.inputSchema.required).toEqual(['session', 'ref', 'text']);
    expect(client.getServerVersion()?.name).toBe('webasset');
    await client.close();
  });

  it('lists the granted assets and refuses an asset outside the grants (forbidden, audited)', async () => {
    const client = await connect(ts.url, agent.token);
    const listed = await client.callTool({ name: 'list_assets', arguments: {} });
    expect(listed.isError).toBeFalsy();
    expect(textOf(listed)).toContain('granted  Granted portal');
    expect(textOf(listed)).not.toContain('elsewhere');
    const refused = await client.callTool({ name: 'open_session', arguments: { asset: 'elsewhere' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toBe('error [forbidden]: You are not allowed to do this.');
    const bad = await client.callTool({ name: 'snapshot', arguments: { session: 'not-a-session' } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/^error \[invalid_request\]: Invalid arguments for snapshot: session: expected a session id/);
    await client.close();
    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.actor_id === agent.userId);
    expect(calls.map((r) => [r.details.tool, r.outcome, r.details.code ?? null])).toEqual(
      expect.arrayContaining([
        ['list_assets', 'success', null],
        ['open_session', 'denied', 'forbidden'],
        ['snapshot', 'failure', 'invalid_request'],
      ]),
    );
    const denial = (await auditRows(ts, 'auth.denied')).find((r) => r.actor_id === agent.userId && r.target_id === 'elsewhere');
    expect(denial?.details.reason).toBe('no_grant');
    for (const call of calls) expect(typeof call.details.durationMs).toBe('number');
  });

  it('answers 401 with the resource metadata pointer without a token, with a bad, revoked or expired token, and with a token in the query string', async () => {
    const pointer = `Bearer resource_metadata="${PUBLIC_URL_ORIGIN}/.well-known/oauth-protected-resource/mcp"`;
    const none = await rawPost(mcpUrl, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(pointer);

    const bogus = await rawPost(mcpUrl, { authorization: `Bearer wat_${'x'.repeat(43)}` });
    expect(bogus.status).toBe(401);
    expect(bogus.headers.get('www-authenticate')).toBe(pointer);

    const revoked = await agentToken(ts, 'revoked-agent');
    expect((await rawPost(mcpUrl, { authorization: `Bearer ${revoked.token}` })).status).toBe(200);
    await ts.services.tokens.revoke(revoked.tokenId, ADMIN);
    const afterRevoke = await rawPost(mcpUrl, { authorization: `Bearer ${revoked.token}` });
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.headers.get('www-authenticate')).toBe(pointer);

    const expired = await agentToken(ts, 'expired-agent');
    await ts.services.database.db.updateTable('api_tokens').set({ expires_at_ms: Date.now() - 1000 }).where('id', '=', expired.tokenId).execute();
    expect((await rawPost(mcpUrl, { authorization: `Bearer ${expired.token}` })).status).toBe(401);

    // A token in the URL is refused, alone or beside a valid header, and never written to the log.
    const inQuery = await rawPost(`${mcpUrl}?access_token=${agent.token}`, {});
    expect(inQuery.status).toBe(401);
    const both = await rawPost(`${mcpUrl}?access_token=${agent.token}`, { authorization: `Bearer ${agent.token}` });
    expect(both.status).toBe(401);
    expect(both.headers.get('www-authenticate')).toBe(pointer);
    expect(((await both.json()) as { error: { message: string } }).error.message).toMatch(/never accepted in the URL/);
    expect(ts.logs.text()).not.toContain(agent.token);
    expect((await auditRows(ts, 'auth.token.failed')).some((r) => String(r.details.reason).includes('query string'))).toBe(true);

    // An MCP session id is no authentication (the server issues none and reads none).
    const withSessionId = await rawPost(mcpUrl, { 'mcp-session-id': '6f1f0c1e-0000-4000-8000-000000000000' });
    expect(withSessionId.status).toBe(401);
    const answered = await rawPost(mcpUrl, { authorization: `Bearer ${agent.token}` }, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('mcp-session-id')).toBeNull();

    // The SDK client sees the 401 as an error on connect.
    await expect(connect(ts.url, revoked.token)).rejects.toThrow();
  });

  it('answers 403 insufficient_scope to a token without the mcp scope', async () => {
    const api = await agentToken(ts, 'api-only-agent', { scopes: ['api:read'] });
    const res = await rawPost(mcpUrl, { authorization: `Bearer ${api.token}` });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="mcp", resource_metadata="/);
  });

  it('refuses a foreign Origin with 403 (audited) and lets the public URL and listed origins through', async () => {
    const auth = { authorization: `Bearer ${agent.token}` };
    const foreign = await rawPost(mcpUrl, { ...auth, origin: 'https://evil.example.net' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect((await rawPost(mcpUrl, { ...auth, origin: PUBLIC_URL_ORIGIN })).status).toBe(200);
    expect((await rawPost(mcpUrl, { ...auth, origin: 'http://localhost:6274' })).status).toBe(200);
    // The server's own address as a browser names it is not enough: a DNS-rebound name looks the same.
    expect((await rawPost(mcpUrl, { ...auth, origin: ts.url })).status).toBe(403);
    expect((await auditRows(ts, 'auth.denied')).some((r) => r.details.reason === 'origin_not_allowed' && r.details.origin === 'https://evil.example.net')).toBe(true);
  });

  it('publishes the protected-resource metadata (RFC 9728) and answers GET and DELETE /mcp with 405', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${ts.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.json()).toEqual({
        resource: `${PUBLIC_URL_ORIGIN}/mcp`,
        resource_name: 'WebAsset Controller MCP server',
        bearer_methods_supported: ['header'],
        scopes_supported: ['mcp'],
      });
    }
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(mcpUrl, { method, headers: { authorization: `Bearer ${agent.token}`, accept: 'text/event-stream' } });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
    expect((await fetch(mcpUrl)).status).toBe(401);
  });

  it('applies the role tool policy: hidden from the list and refused when called, for the agent and for the operator it acts for', async () => {
    // A service account holds only the agent role: an auditor over MCP is a role token (CLI only).
    const auditorScript = await ts.services.tokens.create({ name: 'policy-auditor-script', role: 'auditor', scopes: ['mcp'], createdBy: ADMIN });
    const client = await connect(ts.url, auditorScript.token);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['list_assets', 'list_sessions']);
    const denied = await client.callTool({ name: 'close_session', arguments: { session: '00000000-0000-4000-8000-000000000000' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(/^error \[forbidden\]: The tool close_session is not allowed for the role auditor/);
    await client.close();

    const person = await ts.services.users.create({ username: 'policy-operator', roles: ['operator'], source: 'local', kind: 'person' }, ADMIN);
    const obo = await agentToken(ts, 'policy-obo-agent', { onBehalfOfId: person.id });
    const oboClient = await connect(ts.url, obo.token);
    const names = (await oboClient.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('fill_credential');
    expect(names).toContain('snapshot');
    const fill = await oboClient.callTool({ name: 'fill_credential', arguments: { session: '00000000-0000-4000-8000-000000000000', ref: 'e1', field: 'password' } });
    expect(textOf(fill)).toMatch(/^error \[forbidden\]: The tool fill_credential is not allowed for the role operator of the operator this token acts for/);
    // The operator holds no grant: an asset the agent may use alone is refused to the pair.
    await ts.services.grants.create({ subjectKind: 'user', subjectId: obo.userId, assetId: 'granted', actions: ['connect'] }, ADMIN);
    const open = await oboClient.callTool({ name: 'open_session', arguments: { asset: 'granted' } });
    expect(textOf(open)).toBe('error [forbidden]: You are not allowed to do this.');
    await oboClient.close();
    const denials = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.outcome === 'denied' && r.details.onBehalfOf === person.id);
    expect(denials.map((r) => r.details.tool).sort()).toEqual(['fill_credential', 'open_session']);
    expect((await auditRows(ts, 'auth.denied')).some((r) => r.actor_id === obo.userId && r.details.reason === 'on_behalf_of_denied')).toBe(true);
  });
});

describe('/mcp without a public URL: web sessions and the per-token tool-call rate limit', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_MCP_TOOL_RATE_LIMIT: '3' });
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('does not take a web session, even with its CSRF token and own origin (401 with the pointer at this address)', async () => {
    const operator = await sessionCaller(ts, 'mcp-web-operator', ['operator']);
    expect((await fetch(`${ts.url}/api/auth/session`, { headers: operator.headers('GET') })).status).toBe(200);
    const web = await rawPost(`${ts.url}/mcp`, operator.headers('POST'));
    expect(web.status).toBe(401);
    expect(((await web.json()) as { error: { message: string } }).error.message).toMatch(/agent token in the Authorization header/);
    expect(web.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${ts.url}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('builds the metadata address from a plain Host only, and keeps such answers out of shared caches', async () => {
    const get = (path: string, host: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const url = new URL(path, ts.url);
        const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: headers['content-type'] ? 'POST' : 'GET', headers: { host, ...headers } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        });
        req.on('error', reject).end(headers['content-type'] ? '{}' : undefined);
      });
    const plain = await get('/.well-known/oauth-protected-resource/mcp', 'gw.example.test:8443');
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toMatchObject({ resource: 'http://gw.example.test:8443/mcp' });
    expect(plain.headers['cache-control']).toBe('no-store');
    expect(plain.headers.vary).toMatch(/host/i);
    // A Host that would close the quoted parameter and add its own is neither echoed nor published.
    const forged = 'gw.example.test", error="invalid_token", x="';
    const challenged = await get('/mcp', forged, { 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
    expect(challenged.status).toBe(401);
    expect(challenged.headers['www-authenticate']).toBe('Bearer');
    const refused = await get('/.well-known/oauth-protected-resource/mcp', forged);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(refused.body).not.toContain('error="invalid_token"');
  });

  it('refuses the call past the limit with a clear error naming the setting and when to retry; another token is not affected', async () => {
    const first = await agentToken(ts, 'busy-agent');
    const other = await agentToken(ts, 'quiet-agent');
    const client = await connect(ts.url, first.token);
    for (let i = 0; i < 3; i++) expect((await client.callTool({ name: 'list_sessions', arguments: {} })).isError).toBeFalsy();
    const limited = await client.callTool({ name: 'list_sessions', arguments: {} });
    expect(limited.isError).toBe(true);
    expect(textOf(limited)).toMatch(/^error \[rate_limited\]: Too many tool calls with this token \(WEBASSET_MCP_TOOL_RATE_LIMIT per minute\)\. Retry in \d+ s\.$/);
    // Listing tools is not a tool call.
    expect((await client.listTools()).tools.length).toBe(15);
    await client.close();
    const quiet = await connect(ts.url, other.token);
    expect((await quiet.callTool({ name: 'list_sessions', arguments: {} })).isError).toBeFalsy();
    await quiet.close();
    const rows = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.actor_id === first.userId);
    expect(rows.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'denied']);
    expect(rows[3]!.details.code).toBe('rate_limited');
  });
});
