import type { Logger } from 'pino';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { SharedState } from '../cluster/index.js';
import { randomIds, type Clock, type IdGenerator } from '../core/index.js';
import { createBurstCounter, type BurstRule } from './bursts.js';
import { createWebhookSender, type WebhookOptions } from './webhooks.js';

/** The request facts an alert carries (the same shape as access's RequestContext; detect may not import access). */
export interface DetectContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';

/** Something an operator should look at now. Never holds a secret: it leaves the product by webhook. */
export interface Alert {
  /** Stable machine name, snake_case: `brute_force`, later `odd_session`, ... */
  kind: string;
  severity: AlertSeverity;
  /** One line for people. */
  summary: string;
  /** What the alert is about: `{ kind: 'account', id: 'alice' }`, `{ kind: 'ip', id: '203.0.113.9' }`. */
  subject: { kind: string; id: string };
  /** Small, JSON-serializable facts (counts, windows). */
  details?: Record<string, unknown> | undefined;
  context?: DetectContext | undefined;
}

export interface Detect {
  /**
   * One failed sign-in. More than the threshold for one account or one IP
   * within the window raises one `brute_force` alert per burst, across nodes.
   * Never rejects and never waits for a webhook: detection must not change
   * the answer or the timing of a sign-in beyond its counting.
   */
  signInFailed(input: { account: string; ip: string; context: DetectContext }): Promise<void>;
  /**
   * Records `alert.raised` and sends the alert to every webhook in the
   * background. Rejects only when the audit trail refused the event; the
   * webhooks are still tried then.
   */
  raise(alert: Alert): Promise<{ id: string }>;
  /** Stops taking alerts and waits for webhook deliveries in flight (each tries once more at once). */
  close(): Promise<void>;
}

export interface DetectDeps {
  trail: AuditTrail;
  state: SharedState;
  clock: Clock;
  webhooks: WebhookOptions;
  logger: Logger;
  /** Who records alert events: the node (`{ kind: 'system', id: nodeId }`). */
  actor: Actor;
  ids?: IdGenerator;
  /** Default: more than 5 failures within 5 minutes. */
  bruteForce?: Partial<BurstRule>;
  /** Sent as User-Agent to webhooks. */
  userAgent?: string;
}

export const BRUTE_FORCE_DEFAULTS: BurstRule = { threshold: 5, windowMs: 5 * 60_000 };
/** Typed account names are cut to this length before they reach an audit event or a webhook. */
const MAX_ACCOUNT_LENGTH = 256;

export function createDetect(deps: DetectDeps): Detect {
  const { trail, state, clock, logger, actor } = deps;
  if (typeof trail?.record !== 'function' || typeof state?.hit !== 'function') throw new TypeError('createDetect: trail and state are required');
  const ids = deps.ids ?? randomIds;
  const rule: BurstRule = { ...BRUTE_FORCE_DEFAULTS, ...deps.bruteForce };
  const byAccount = createBurstCounter({ state, clock, rule, namespace: 'signin-account' });
  const byIp = createBurstCounter({ state, clock, rule, namespace: 'signin-ip' });
  let closed = false;

  const webhooks = createWebhookSender({
    options: deps.webhooks,
    clock,
    logger,
    userAgent: deps.userAgent ?? 'webasset-alerts',
    async onGiveUp(failure) {
      logger.error({ alertId: failure.alertId, endpoint: failure.endpoint, attempts: failure.attempts, reason: failure.reason }, 'alert delivery failed');
      try {
        await trail.record({
          actor,
          action: 'alert.delivery_failed',
          outcome: 'failure',
          target: { kind: 'alert', id: failure.alertId },
          details: { endpoint: failure.endpoint, attempts: failure.attempts, reason: failure.reason },
        });
      } catch (error) {
        logger.error({ err: error, alertId: failure.alertId }, 'could not record alert.delivery_failed');
      }
    },
  });

  async function raise(alert: Alert): Promise<{ id: string }> {
    const id = ids.uuid();
    const time = new Date(clock.now()).toISOString();
    const details = alert.details ?? {};
    const body = JSON.stringify({
      type: 'webasset.alert.v1',
      id,
      time,
      kind: alert.kind,
      severity: alert.severity,
      summary: alert.summary,
      subject: alert.subject,
      details,
      node: actor.id,
    });
    if (closed) logger.error({ alertId: id, kind: alert.kind }, 'alert raised after close: audit only');
    else webhooks.send(id, body);
    logger.warn({ alertId: id, kind: alert.kind, severity: alert.severity, subjectKind: alert.subject.kind }, 'alert raised');
    await trail.record({
      actor,
      action: 'alert.raised',
      outcome: 'success',
      target: { kind: 'alert', id },
      // The alert's own fields last: a detail named `kind` cannot disguise what was raised.
      details: { ...details, kind: alert.kind, severity: alert.severity, summary: alert.summary, subject: alert.subject, webhooks: webhooks.count },
      sourceIp: alert.context?.sourceIp,
      userAgent: alert.context?.userAgent,
      requestId: alert.context?.requestId,
    });
    return { id };
  }

  async function countFailure(subject: { kind: 'account' | 'ip'; id: string }, context: DetectContext): Promise<void> {
    const verdict = await (subject.kind === 'account' ? byAccount : byIp).record(subject.id);
    if (verdict.state !== 'started') return;
    await raise({
      kind: 'brute_force',
      severity: 'high',
      summary: `More than ${rule.threshold} failed sign-ins within ${rule.windowMs / 60_000} minutes for one ${subject.kind === 'account' ? 'account' : 'IP address'}`,
      subject,
      details: { count: verdict.count, threshold: rule.threshold, windowSeconds: rule.windowMs / 1000 },
      context,
    });
  }

  return {
    async signInFailed({ account, ip, context }) {
      const name = cleanAccount(account);
      const subjects = [
        ...(name ? [{ kind: 'account' as const, id: name }] : []),
        ...(typeof ip === 'string' && ip !== '' ? [{ kind: 'ip' as const, id: ip.slice(0, 64) }] : []),
      ];
      const results = await Promise.allSettled(subjects.map((subject) => countFailure(subject, context)));
      for (const result of results) {
        // Detection must never turn a refused sign-in into an error; an outage of it is logged loudly.
        if (result.status === 'rejected') logger.error({ err: result.reason }, 'brute-force detection failed for a failed sign-in');
      }
    },
    raise,
    async close() {
      closed = true;
      await webhooks.close();
    },
  };
}

/** Trimmed, lower-case (Alice and alice are one account to an attacker), cut, without control characters; empty when nothing is left. */
function cleanAccount(account: unknown): string {
  if (typeof account !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  return account.replace(/[\u0000-\u001f\u007f]/g, '').trim().toLowerCase().slice(0, MAX_ACCOUNT_LENGTH);
}
