import pino, { type Logger } from 'pino';
import { createAudit, type Audit, type AuditEventInput } from '../../src/audit/index.js';
import { createRedactor, randomIds, systemClock, type Clock, type Redactor } from '../../src/core/index.js';
import type { Database } from '../../src/store/index.js';

export const TEST_SIGNING_KEY = Buffer.alloc(32, 7).toString('base64');

export function silentLogger() {
  return pino({ level: 'silent' });
}

export function buildAudit(
  database: Database,
  dataDir: string,
  overrides: Partial<{
    clock: Clock;
    redactor: Redactor;
    checkpointEvery: number;
    batchMax: number;
    retryMs: number;
    nodeId: string;
    logger: Logger;
  }> = {},
): Audit {
  return createAudit({
    db: database.db,
    copyOut: database.copyOut,
    dataDir,
    signingKey: TEST_SIGNING_KEY,
    nodeId: overrides.nodeId ?? 'test-node',
    clock: overrides.clock ?? systemClock,
    ids: randomIds,
    redactor: overrides.redactor ?? createRedactor(),
    logger: overrides.logger ?? silentLogger(),
    batchMax: overrides.batchMax ?? 500,
    checkpointEvery: overrides.checkpointEvery ?? 100,
    checkpointSeconds: 3600,
    pageMax: 500,
    retryMs: overrides.retryMs ?? 50,
  });
}

export function sampleEvent(n: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    actor: { kind: 'user', id: `user-${n % 7}`, name: `User ${n % 7}` },
    action: 'audit.read',
    outcome: 'success',
    target: { kind: 'asset', id: `asset-${n % 3}` },
    sourceIp: '127.0.0.1',
    userAgent: 'vitest',
    requestId: `req-${n}`,
    details: { n, note: 'ação – ñ ✓' },
    ...extra,
  };
}

/** An event that carries `value` in every text field, for tests of hard text through hashing and storage. */
export function eventCarrying(value: string, details: Record<string, unknown>, actorKind: 'user' | 'agent' = 'user'): AuditEventInput {
  return {
    actor: { kind: actorKind, id: `id ${value}`, name: `name ${value}` },
    action: 'auth.denied',
    outcome: 'denied',
    target: { kind: `kind ${value}`, id: `target ${value}` },
    sourceIp: `ip ${value}`,
    userAgent: `ua ${value}`,
    requestId: `req ${value}`,
    details,
  };
}
