import type { AuditAction, AuditEventInput } from '../src/audit/index.js';

/** Secret values registered with the benchmark's redactor; some events carry them in their details. */
export const BENCH_SECRETS = ['s3cr3t-Portal-Passw0rd!', 'JBSWY3DPEHPK3PXPJBSWY3DP', 'tok_live_9f8e7d6c5b4a39281706'];

const ACTIONS: readonly AuditAction[] = ['audit.read', 'auth.denied', 'token.created', 'audit.exported', 'auth.token.failed'];
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/**
 * A realistic event: an operator or agent acting on a web asset, with about
 * 200 bytes of details. One in ten carries a registered secret inside a
 * string and one in twenty a field named like a secret, so redaction does
 * real work.
 */
export function benchEvent(n: number): AuditEventInput {
  const user = n % 500;
  const asset = n % 40;
  const details: Record<string, unknown> = {
    method: 'POST',
    path: `/api/assets/asset-${asset}/sessions`,
    status: n % 17 === 0 ? 403 : 201,
    durationMs: (n % 977) / 10,
    host: 'portal.bank-example.com',
    recipe: 'login-form-v3',
    mfa: 'totp',
    note: n % 10 === 0 ? `operator pasted ${BENCH_SECRETS[n % 3]} into the chat` : 'session opened through the live view',
  };
  if (n % 20 === 0) details.password = 'typed-by-mistake-1234';
  return {
    actor: { kind: n % 5 === 0 ? 'agent' : 'user', id: `user-${user}`, name: `Operator ${user}` },
    action: ACTIONS[n % ACTIONS.length]!,
    outcome: n % 17 === 0 ? 'denied' : 'success',
    target: { kind: 'asset', id: `asset-${asset}` },
    sourceIp: `10.0.${(n >> 8) & 255}.${n & 255}`,
    userAgent: USER_AGENT,
    requestId: `req-${n.toString(36)}`,
    details,
  };
}
