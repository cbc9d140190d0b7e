import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { sql } from 'kysely';
import type { Principal, Role } from '../../src/identity/index.js';
import type { TestServer } from '../support/server.js';

export const ADMIN: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

/** A service account (role agent unless told) with an agent token; optionally on behalf of a person. */
export async function agentToken(
  ts: TestServer,
  name: string,
  options: { scopes?: string[]; roles?: Role[]; onBehalfOfId?: string; expiresInDays?: number } = {},
): Promise<{ token: string; tokenId: string; userId: string }> {
  const account = await ts.services.users.create({ username: name, kind: 'service', roles: options.roles ?? ['agent'], source: 'local' }, ADMIN);
  const created = await ts.services.tokens.create({
    name: `${name} token`,
    serviceAccountId: account.id,
    scopes: options.scopes ?? ['mcp'],
    onBehalfOfId: options.onBehalfOfId,
    expiresInDays: options.expiresInDays,
    createdBy: ADMIN,
  });
  return { token: created.token, tokenId: created.id, userId: account.id };
}

/** An SDK client connected to the server's /mcp with the token (and extra headers). */
export async function connect(url: string, token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'webasset-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } } });
  await client.connect(transport);
  return client;
}

/** The text of a tool result (all its text parts). */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** A raw JSON-RPC POST to /mcp, for the status codes and headers the SDK client hides. */
export async function rawPost(url: string, headers: Record<string, string>, body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify(body),
  });
}

export interface AuditRow {
  action: string;
  outcome: string;
  actor_id: string;
  target_id: string | null;
  details: Record<string, any>;
}

export async function auditRows(ts: TestServer, action?: string): Promise<AuditRow[]> {
  await ts.services.audit.trail.flush();
  const { rows } = await sql<{ action: string; outcome: string; actor_id: string; target_id: string | null; details: string }>`
    SELECT action, outcome, actor_id, target_id, details FROM audit_events
    WHERE (${action ?? null}::text IS NULL OR action = ${action ?? null}) ORDER BY seq`.execute(ts.services.database.db);
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, any> }));
}

export async function auditText(ts: TestServer): Promise<string> {
  await ts.services.audit.trail.flush();
  const { rows } = await sql<{ t: string }>`SELECT coalesce(string_agg(action || ' ' || coalesce(target_id, '') || ' ' || details, E'\\n'), '') AS t FROM audit_events`.execute(
    ts.services.database.db,
  );
  return rows[0]!.t;
}
