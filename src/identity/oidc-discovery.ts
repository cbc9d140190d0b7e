import * as client from 'openid-client';
import { AppError, type Clock } from '../core/index.js';

export interface OidcDiscoveryOptions {
  issuer: URL;
  clientId: string;
  /** Unset: a public client (PKCE only, no client authentication). */
  clientSecret: string | undefined;
  clock: Clock;
  /** Seconds before a request to the provider is given up. */
  timeoutSeconds?: number;
  /** First wait after a failed discovery; doubles per failure up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
  warn(detail: Record<string, unknown>, message: string): void;
}

export interface OidcDiscovery {
  /**
   * The provider's configuration, discovered on first use and kept. While the
   * provider cannot be reached, rejects with `sso_unavailable` (fail closed),
   * and waits a growing interval before it asks the provider again.
   */
  get(): Promise<client.Configuration>;
}

export function createOidcDiscovery(options: OidcDiscoveryOptions): OidcDiscovery {
  const { issuer, clientId, clientSecret, clock } = options;
  const retryMinMs = options.retryMinMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  // Plain http is for a provider on the same machine in development and tests; say so every start.
  const insecureHttp = issuer.protocol === 'http:';
  if (insecureHttp) {
    options.warn({ issuer: issuer.origin }, 'OIDC_ISSUER uses http://: tokens and codes travel unencrypted; use https:// in production');
  }
  const execute = insecureHttp ? [client.allowInsecureRequests] : [];
  const auth = clientSecret === undefined ? client.None() : client.ClientSecretBasic(clientSecret);

  let current: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;
  let failures = 0;
  let nextAttemptAt = 0;

  async function discover(): Promise<client.Configuration> {
    try {
      const config = await client.discovery(issuer, clientId, undefined, auth, { execute, timeout: options.timeoutSeconds ?? 10 });
      current = config;
      failures = 0;
      return config;
    } catch (error) {
      failures += 1;
      const waitMs = Math.min(retryMaxMs, retryMinMs * 2 ** (failures - 1));
      nextAttemptAt = clock.now() + waitMs;
      options.warn({ issuer: issuer.origin, failures, retryInMs: waitMs, reason: describeProviderError(error) }, 'OIDC discovery failed');
      throw unavailable(waitMs);
    } finally {
      pending = undefined;
    }
  }

  return {
    async get() {
      if (current) return current;
      const waitMs = nextAttemptAt - clock.now();
      if (waitMs > 0) throw unavailable(waitMs);
      pending ??= discover();
      return pending;
    },
  };
}

function unavailable(waitMs: number): AppError {
  return new AppError('sso_unavailable', { data: { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) } });
}

/** True when `error` means the provider could not be reached or failed on its side (not that it refused us). */
export function isProviderUnavailable(error: unknown): boolean {
  if (error instanceof client.ResponseBodyError) return error.status >= 500;
  if (error instanceof client.ClientError) {
    const cause = error.cause as { status?: unknown } | undefined;
    return typeof cause?.status === 'number' && cause.status >= 500;
  }
  if (error instanceof TypeError) return true; // fetch: connection refused, DNS, TLS
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * A short, secret-free description for logs and audit: the library's error
 * code and the OAuth `error`, never a token, code or response body.
 */
export function describeProviderError(error: unknown): string {
  // `error` comes from the provider (or whoever forged the callback): bounded, it is only ever logged and audited.
  if (error instanceof client.AuthorizationResponseError) return `authorization response error: ${error.error.slice(0, 64)}`;
  if (error instanceof client.ResponseBodyError) return `provider answered ${error.status}: ${error.error.slice(0, 64)}`;
  if (error instanceof client.ClientError) {
    // A claim check names the claim (nonce, iss, aud...) in its cause; the values stay out.
    const claim = (error.cause as { claim?: unknown } | undefined)?.claim;
    return `${error.code ?? 'client error'}: ${error.message}${typeof claim === 'string' ? ` (claim ${claim})` : ''}`;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return 'unknown error';
}
