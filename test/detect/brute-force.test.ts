import { createHmac, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryState, createRedisState, type SharedState } from '../../src/cluster/index.js';
import { createLogger, createRedactor } from '../../src/core/index.js';
import { createDetect, verifyAlertSignature, type Detect, type WebhookOptions } from '../../src/detect/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { closedPort, LogLines, startReceiver, waitFor } from './receiver.js';

const SECRET = 'canary-webhook-secret-0123456789abcdef';
const TEST_REDIS_URL = process.env.TEST_REDIS_URL;
const MINUTE = 60_000;

interface AlertRow {
  action: string;
  target_id: string;
  details: string;
  source_ip: string | null;
}

describe('brute-force detection', () => {
  const fresh = useTestDatabase();
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup(options: { webhooks?: Partial<WebhookOptions>; state?: SharedState; clock?: { now(): number } } = {}) {
    let now = Date.UTC(2026, 11, 4, 17, 0, 0);
    const clock = options.clock ?? { now: () => now };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    const state = options.state ?? createMemoryState({ clock });
    if (!options.state) fresh.defer(() => state.close());
    const logs = new LogLines();
    const logger = createLogger({ level: 'info', redactor: createRedactor([SECRET]), destination: logs });
    const make = (s: SharedState = state) => {
      const detect = createDetect({
        trail: audit.trail,
        state: s,
        clock,
        logger,
        actor: { kind: 'system', id: 'test-node', name: 'webasset' },
        webhooks: { urls: [], secret: SECRET, retryDelaysMs: [20, 40], timeoutMs: 2_000, ...options.webhooks },
      });
      closers.push(() => detect.close());
      return detect;
    };
    const alerts = async (): Promise<AlertRow[]> => {
      await audit.trail.flush();
      const { rows } = await sql<AlertRow>`SELECT action, target_id, details, source_ip FROM audit_events WHERE action LIKE 'alert.%' ORDER BY seq`.execute(fresh.db.database.db);
      return rows;
    };
    return { detect: make(), make, alerts, logs, audit, advance: (ms: number) => (now += ms) };
  }

  const fail = (detect: Detect, account: string, ip: string) =>
    detect.signInFailed({ account, ip, context: { sourceIp: ip, userAgent: 'vitest', requestId: randomUUID() } });

  it('raises one alert per burst for one account, not one per failure, signed so the receiver can verify it', async () => {
    const receiver = await startReceiver();
    closers.push(() => receiver.close());
    const { detect, alerts, logs } = await setup({ webhooks: { urls: [receiver.url] } });
    for (let i = 1; i <= 5; i += 1) await fail(detect, 'alice', `198.51.100.${i}`);
    expect(await alerts()).toEqual([]);
    for (let i = 6; i <= 20; i += 1) await fail(detect, i % 2 ? 'alice' : 'ALICE', `198.51.100.${i}`);
    const rows = await alerts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'alert.raised', source_ip: '198.51.100.6' });
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ kind: 'brute_force', subject: { kind: 'account', id: 'alice' }, count: 6, threshold: 5, windowSeconds: 300, webhooks: 1 });

    await waitFor(() => receiver.deliveries.length === 1);
    await detect.close();
    expect(receiver.deliveries).toHaveLength(1);
    const [delivery] = receiver.deliveries;
    const body = JSON.parse(delivery!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'webasset.alert.v1', id: rows[0]!.target_id, kind: 'brute_force', subject: { kind: 'account', id: 'alice' } });
    const timestamp = delivery!.headers['x-webasset-timestamp'] as string;
    const signature = delivery!.headers['x-webasset-signature'] as string;
    // Independently, as docs/operations.md tells a receiver to do it.
    expect(signature).toBe(`sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${delivery!.body}`).digest('hex')}`);
    expect(verifyAlertSignature({ secret: SECRET, timestamp, signature, body: delivery!.body, nowMs: Number(timestamp) * 1000 })).toBe(true);
    expect(verifyAlertSignature({ secret: SECRET, timestamp, signature, body: delivery!.body.replace('alice', 'bob'), nowMs: Number(timestamp) * 1000 })).toBe(false);
    expect(verifyAlertSignature({ secret: SECRET, timestamp, signature, body: delivery!.body, nowMs: Number(timestamp) * 1000 + 10 * MINUTE })).toBe(false);
    expect(verifyAlertSignature({ secret: 'another-secret-of-thirty-two-characters', timestamp, signature, body: delivery!.body, nowMs: Number(timestamp) * 1000 })).toBe(false);
    // The receiver's URL carries a query; logs show only its origin, and never the secret.
    expect(logs.text()).toContain('alert delivered');
    expect(logs.text()).not.toContain('canary-url-query-secret');
    expect(logs.text()).not.toContain(SECRET);
    expect(delivery!.body).not.toContain(SECRET);
  });

  it('raises one alert per burst for one IP across many accounts', async () => {
    const { detect, alerts } = await setup();
    for (let i = 1; i <= 30; i += 1) await fail(detect, `user-${i}`, '203.0.113.9');
    const rows = await alerts();
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ subject: { kind: 'ip', id: '203.0.113.9' }, count: 6 });
  });

  it('raises again for a new burst after a quiet window, but not during a slow, sustained one', async () => {
    const { detect, alerts, advance } = await setup();
    // Sustained: 2 failures a minute for 30 minutes stays one burst.
    for (let minute = 0; minute < 30; minute += 1) {
      await fail(detect, 'bob', `192.0.2.${2 * minute}`);
      await fail(detect, 'bob', `192.0.2.${2 * minute + 1}`);
      advance(MINUTE);
    }
    expect((await alerts()).map((r) => JSON.parse(r.details).subject)).toEqual([{ kind: 'account', id: 'bob' }]);
    advance(6 * MINUTE);
    for (let i = 0; i < 6; i += 1) await fail(detect, 'bob', `192.0.2.${10 + i}`);
    expect(await alerts()).toHaveLength(2);
  });

  it('does not alert for 5 failures per 5 minutes, and catches 6 that straddle a window boundary', async () => {
    const { detect, alerts, advance } = await setup();
    // The counted span is one window plus at most a tenth of it: six failures 70 s apart are never in it together.
    for (let i = 0; i < 10; i += 1) {
      await fail(detect, 'carol', `192.0.2.${i}`);
      advance(70_000);
    }
    expect(await alerts()).toEqual([]);
    advance(10 * MINUTE);
    // One failure starts a count; five near its five-minute mark and one just after.
    await fail(detect, 'carol', '192.0.2.100');
    advance(4 * MINUTE + 50_000);
    for (let i = 0; i < 5; i += 1) await fail(detect, 'carol', `192.0.2.${101 + i}`);
    advance(20_000);
    await fail(detect, 'carol', '192.0.2.110');
    expect(await alerts()).toHaveLength(1);
  });

  it('never throws into the sign-in when the shared state fails', async () => {
    const clock = { now: () => Date.now() };
    const broken = createMemoryState({ clock });
    await broken.close();
    const { detect, logs } = await setup({ state: broken, clock });
    await expect(fail(detect, 'mallory', '192.0.2.1')).resolves.toBeUndefined();
    expect(logs.text()).toContain('brute-force detection failed');
  });

  it('retries a receiver that is down, then records alert.delivery_failed without the URL path or query', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/hook?token=canary-url-query-secret`;
    const { detect, alerts, logs } = await setup({ webhooks: { urls: [url] } });
    for (let i = 0; i < 6; i += 1) await fail(detect, 'dave', '192.0.2.7');
    await waitFor(async () => (await alerts()).some((r) => r.action === 'alert.delivery_failed'));
    const rows = await alerts();
    const failed = rows.find((r) => r.action === 'alert.delivery_failed')!;
    const raised = rows.filter((r) => r.action === 'alert.raised');
    expect(raised).toHaveLength(2); // the account and the IP
    expect(raised.map((r) => r.target_id)).toContain(failed.target_id);
    expect(JSON.parse(failed.details)).toMatchObject({ endpoint: new URL(url).origin, attempts: 3, reason: 'ECONNREFUSED' });
    expect(rows.map((r) => r.details).join()).not.toContain('canary-url-query-secret');
    expect(logs.text().match(/alert delivery attempt failed/g)?.length).toBeGreaterThanOrEqual(3);
    expect(logs.text()).not.toContain('canary-url-query-secret');
    expect(logs.text()).not.toContain('/hook');
  });

  it('retries a 500 until it is accepted, and gives up at once on a 4xx that will not change', async () => {
    const flaky = await startReceiver([500, 503, 200]);
    const refusing = await startReceiver([403]);
    closers.push(() => flaky.close(), () => refusing.close());
    const { detect, alerts } = await setup({ webhooks: { urls: [flaky.url, refusing.url] } });
    const { id } = await detect.raise({ kind: 'test_alert', severity: 'low', summary: 'test', subject: { kind: 'ip', id: '192.0.2.1' } });
    await waitFor(() => flaky.deliveries.length === 3);
    await waitFor(async () => (await alerts()).some((r) => r.action === 'alert.delivery_failed'));
    await detect.close();
    expect(refusing.deliveries).toHaveLength(1);
    const failures = (await alerts()).filter((r) => r.action === 'alert.delivery_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.target_id).toBe(id);
    expect(JSON.parse(failures[0]!.details)).toMatchObject({ attempts: 1, reason: 'HTTP 403' });
    // Every attempt is signed afresh and names the same alert, so receivers can drop duplicates.
    expect(new Set(flaky.deliveries.map((d) => d.headers['x-webasset-alert-id']))).toEqual(new Set([id]));
  });

  it('does not make the sign-in wait for a slow receiver, and close() drains the delivery in flight', async () => {
    const slow = await startReceiver([200]);
    closers.push(() => slow.close());
    slow.hold(300);
    const { detect } = await setup({ webhooks: { urls: [slow.url] } });
    for (let i = 0; i < 6; i += 1) await fail(detect, 'erin', `192.0.2.${i}`);
    expect(slow.deliveries).toHaveLength(0);
    await detect.close();
    expect(slow.deliveries).toHaveLength(1);
  });

  it('on close, a delivery waiting for its retry tries once more at once, then records the failure', async () => {
    const down = await startReceiver([503]);
    closers.push(() => down.close());
    // A retry due in ten minutes: close() must not wait for it.
    const { detect, alerts, logs } = await setup({ webhooks: { urls: [down.url], retryDelaysMs: [600_000, 600_000] } });
    await detect.raise({ kind: 'test_alert', severity: 'low', summary: 'test', subject: { kind: 'ip', id: '192.0.2.1' } });
    // Waiting for its retry (an attempt that fails while closing is the last one anyway).
    await waitFor(() => logs.text().includes('"willRetry":true'));
    await detect.close();
    expect(down.deliveries).toHaveLength(2);
    const failed = (await alerts()).filter((r) => r.action === 'alert.delivery_failed');
    expect(failed.map((r) => JSON.parse(r.details))).toEqual([{ endpoint: new URL(down.url).origin, attempts: 2, reason: 'HTTP 503' }]);
    await expect(detect.raise({ kind: 'test_alert', severity: 'low', summary: 'after close', subject: { kind: 'ip', id: '192.0.2.1' } })).resolves.toMatchObject({ id: expect.any(String) });
    expect(down.deliveries).toHaveLength(2);
  });

  it('two detectors on one shared state raise one alert for a burst split between them', async () => {
    const { detect, make, alerts } = await setup();
    const other = make();
    await Promise.all(Array.from({ length: 24 }, (_, i) => fail(i % 2 ? detect : other, 'frank', `192.0.2.${i}`)));
    expect((await alerts()).filter((r) => JSON.parse(r.details).subject.kind === 'account')).toHaveLength(1);
  });

  it.skipIf(!TEST_REDIS_URL)('two nodes on Redis share the burst: one alert', async () => {
    const keyPrefix = `wa-test-${randomUUID()}:`;
    const a = await createRedisState({ url: TEST_REDIS_URL!, keyPrefix });
    const b = await createRedisState({ url: TEST_REDIS_URL!, keyPrefix });
    fresh.defer(async () => {
      await a.close();
      await b.close();
    });
    const receiver = await startReceiver();
    closers.push(() => receiver.close());
    const clock = { now: () => Date.now() };
    const { detect, make, alerts } = await setup({ state: a, clock, webhooks: { urls: [receiver.url] } });
    const other = make(b);
    await Promise.all(Array.from({ length: 30 }, (_, i) => fail(i % 2 ? detect : other, 'grace', '192.0.2.77')));
    const rows = (await alerts()).filter((r) => r.action === 'alert.raised');
    expect(rows.map((r) => JSON.parse(r.details).subject.kind).sort()).toEqual(['account', 'ip']);
    await waitFor(() => receiver.deliveries.length === 2);
  });
});
