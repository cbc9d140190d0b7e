import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Clock } from '../core/index.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signAlertBody } from './signature.js';

export interface WebhookOptions {
  /** Receivers of every alert (http: or https:). Empty: alerts go to the audit trail only. */
  urls: readonly string[];
  /** HMAC-SHA256 key of the signature header; required when `urls` is not empty. */
  secret: string | undefined;
  /** Longest wait for one attempt, connect to response headers (default 5000 ms). */
  timeoutMs?: number;
  /** Waits before each retry; its length is the number of retries (default 1 s, 5 s, 25 s). */
  retryDelaysMs?: readonly number[];
}

/** A delivery that gave up: what is safe to log and audit (the receiver's origin, never its path or query). */
export interface DeliveryFailure {
  alertId: string;
  endpoint: string;
  attempts: number;
  reason: string;
}

export interface WebhookSender {
  /** Number of receivers. */
  readonly count: number;
  /** Starts delivering `body` to every receiver in the background; never throws, never waits. */
  send(alertId: string, body: string): void;
  /** Stops taking new alerts; deliveries waiting to retry try once more at once; resolves when all have settled. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 25_000];
// A receiver that refuses the request itself will refuse it again; these statuses say "later".
const RETRYABLE_4XX = new Set([408, 425, 429]);

interface Endpoint {
  url: URL;
  /** scheme://host:port: what logs and audit events may show. A webhook URL's path often is its secret. */
  origin: string;
}

export function createWebhookSender(deps: {
  options: WebhookOptions;
  clock: Clock;
  logger: Logger;
  userAgent: string;
  onGiveUp: (failure: DeliveryFailure) => Promise<void>;
}): WebhookSender {
  const { options, clock, logger } = deps;
  const endpoints = options.urls.map(parseEndpoint);
  if (endpoints.length > 0 && !options.secret) throw new TypeError('createWebhookSender: a signing secret is required when webhook URLs are set');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const inFlight = new Set<Promise<void>>();
  const sleepers = new Set<() => void>();
  let closing = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      sleepers.add(wake);
    });

  async function deliver(endpoint: Endpoint, alertId: string, body: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      // Signed per attempt: a late retry still carries a fresh timestamp the receiver accepts.
      const timestamp = String(Math.floor(clock.now() / 1000));
      const result = await post(endpoint.url, body, timeoutMs, {
        'content-type': 'application/json',
        'user-agent': deps.userAgent,
        'x-webasset-alert-id': alertId,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signAlertBody(options.secret!, timestamp, body),
      });
      if (result.ok) {
        logger.info({ alertId, endpoint: endpoint.origin, attempt }, 'alert delivered');
        return;
      }
      const last = !result.retryable || attempt > delays.length || closing;
      logger.warn({ alertId, endpoint: endpoint.origin, attempt, reason: result.reason, willRetry: !last }, 'alert delivery attempt failed');
      if (last) {
        await deps.onGiveUp({ alertId, endpoint: endpoint.origin, attempts: attempt, reason: result.reason });
        return;
      }
      await sleep(delays[attempt - 1]!);
    }
  }

  return {
    count: endpoints.length,
    send(alertId, body) {
      if (closing) {
        logger.error({ alertId }, 'alert not delivered: shutting down');
        return;
      }
      for (const endpoint of endpoints) {
        const run = deliver(endpoint, alertId, body)
          .catch((error: unknown) => logger.error({ err: error, alertId, endpoint: endpoint.origin }, 'alert delivery failed unexpectedly'))
          .finally(() => inFlight.delete(run));
        inFlight.add(run);
      }
    },
    async close() {
      closing = true;
      for (const wake of [...sleepers]) wake();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

function parseEndpoint(raw: string): Endpoint {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('webhook URLs must be http: or https:');
  if (url.username || url.password) throw new TypeError('webhook URLs must not carry credentials');
  return { url, origin: url.origin };
}

type PostResult = { ok: true } | { ok: false; retryable: boolean; reason: string };

/**
 * One POST on its own connection. Redirects are not followed (a 3xx is a
 * failure): the signed alert goes only where it was configured to go. The
 * response body is never read.
 */
function post(url: URL, body: string, timeoutMs: number, headers: Record<string, string>): Promise<PostResult> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
      const status = response.statusCode ?? 0;
      response.destroy();
      if (status >= 200 && status < 300) done({ ok: true });
      else done({ ok: false, retryable: status >= 500 || RETRYABLE_4XX.has(status), reason: `HTTP ${status}` });
    });
    const timer = setTimeout(() => {
      done({ ok: false, retryable: true, reason: 'timeout' });
      request.destroy();
    }, timeoutMs);
    // Only the error's code: a message can carry the address, and the path of a webhook URL can be its secret.
    request.on('error', (error: NodeJS.ErrnoException) => done({ ok: false, retryable: true, reason: error.code ?? 'network error' }));
    request.end(body);
  });
}
