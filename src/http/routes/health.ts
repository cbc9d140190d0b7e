import type { FastifyInstance } from 'fastify';
import type { AuditTrail } from '../../audit/index.js';

export interface HealthDeps {
  ping(): Promise<void>;
  /** Resolves when the shared state (in-process or Redis) answers. */
  pingState(): Promise<void>;
  trail: AuditTrail;
  isShuttingDown(): boolean;
}

const PING_TIMEOUT_MS = 2_000;

const readySchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    reason: { type: ['string', 'null'] },
    checks: {
      type: 'object',
      properties: {
        database: { type: 'string', enum: ['ok', 'unreachable'] },
        sharedState: { type: 'string', enum: ['ok', 'unreachable'] },
        auditTrail: { type: 'string', enum: ['ok', 'draining', 'spooling', 'closed'] },
        auditSpoolBytes: { type: 'integer' },
      },
    },
  },
} as const;

/** `/healthz`: the process answers. `/readyz`: it can do its job (database reachable, audit trail writing). */
export async function healthRoutes(app: FastifyInstance, deps: HealthDeps): Promise<void> {
  app.get('/healthz', { config: { access: { kind: 'public' } }, schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { config: { access: { kind: 'public' } }, schema: { response: { 200: readySchema, 503: readySchema } } }, async (_request, reply) => {
    const answers = (probe: Promise<void>) =>
      withTimeout(probe, PING_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
    const [databaseOk, stateOk] = await Promise.all([answers(deps.ping()), answers(deps.pingState())]);
    const audit = deps.trail.status();
    const auditTrail = audit.state === 'spooling' && databaseOk ? 'draining' : audit.state;
    let reason: string | null = null;
    if (deps.isShuttingDown()) reason = 'shutting down';
    else if (!databaseOk) reason = 'database unreachable';
    else if (!stateOk) reason = 'shared state unreachable';
    else if (audit.state === 'closed') reason = 'audit trail closed';
    else if (audit.state === 'spooling' && audit.reason === 'spool drain failed') reason = 'audit spool cannot be drained';
    const body = {
      status: reason ? 'not_ready' : 'ready',
      reason,
      checks: {
        database: databaseOk ? 'ok' : 'unreachable',
        sharedState: stateOk ? 'ok' : 'unreachable',
        auditTrail,
        auditSpoolBytes: audit.spoolBytes,
      },
    };
    return reply.status(reason ? 503 : 200).send(body);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
