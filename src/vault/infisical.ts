import { AppError, type Clock } from '../core/index.js';
import { decodeFields, encodeFields } from './fields.js';

/** Where a credential lives in Infisical: one secret per field. */
export interface InfisicalReference {
  projectId: string;
  environment: string;
  /** Folder of the secrets, `/` by default. */
  secretPath: string;
  /** Field name (`username`, `password`, `totpSeed`, …) to Infisical secret name. */
  keys: Record<string, string>;
}

export interface InfisicalSettings {
  /** Site URL, e.g. https://app.infisical.com or a self-hosted https://infisical.bank.example. */
  url: string;
  /** Machine identity with Universal Auth. */
  clientId: string;
  clientSecret: string;
  /** How long fetched values stay in memory (never on disk); 0: not cached. */
  cacheMs: number;
  /** Per request. */
  timeoutMs?: number;
}

export interface InfisicalSource {
  load(reference: InfisicalReference): Promise<{ version: number; plain: Buffer; fields: Map<string, Buffer> }>;
  /** Wipes the cache and forgets the access token. */
  close(): void;
}

interface Cached {
  value: Buffer;
  version: number;
  expiresAt: number;
}

/**
 * Reads secrets with Infisical's REST API: Universal Auth login
 * (`POST /api/v1/auth/universal-auth/login`) and "get a secret by name"
 * (`GET /api/v3/secrets/raw/{secretName}?workspaceId&environment&secretPath`).
 * Any failure fails the read closed with `secret_source_unavailable`.
 */
export function createInfisicalSource(settings: InfisicalSettings, deps: { clock: Clock; fetch?: typeof fetch }): InfisicalSource {
  const base = settings.url.replace(/\/+$/, '');
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = settings.timeoutMs ?? 5_000;
  const cache = new Map<string, Cached>();
  let token: { value: string; expiresAt: number } | null = null;

  const unavailable = (detail: string) =>
    new AppError('secret_source_unavailable', { publicMessage: 'The secret manager (Infisical) could not be reached or refused the request; no credential was returned.', detail });

  async function request(path: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await doFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (error) {
      throw unavailable(`${what}: ${(error as Error).name === 'TimeoutError' ? 'timed out' : ((error as { cause?: { code?: string } }).cause?.code ?? 'network error')}`);
    }
  }

  async function accessToken(): Promise<string> {
    if (token && token.expiresAt > deps.clock.now()) return token.value;
    const response = await request(
      '/api/v1/auth/universal-auth/login',
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ clientId: settings.clientId, clientSecret: settings.clientSecret }) },
      'login',
    );
    if (!response.ok) throw unavailable(`login answered HTTP ${response.status}`);
    const body = (await response.json().catch(() => null)) as { accessToken?: unknown; expiresIn?: unknown } | null;
    if (typeof body?.accessToken !== 'string' || body.accessToken === '') throw unavailable('login answer has no accessToken');
    const lifetime = typeof body.expiresIn === 'number' && body.expiresIn > 0 ? body.expiresIn * 1000 : 60_000;
    // Renewed a little early, so a token never expires between the check and the request.
    token = { value: body.accessToken, expiresAt: deps.clock.now() + Math.max(1_000, lifetime - 30_000) };
    return token.value;
  }

  async function fetchSecret(reference: InfisicalReference, name: string, retried = false): Promise<{ value: Buffer; version: number }> {
    const query = new URLSearchParams({ workspaceId: reference.projectId, environment: reference.environment, secretPath: reference.secretPath });
    const response = await request(`/api/v3/secrets/raw/${encodeURIComponent(name)}?${query.toString()}`, { headers: { authorization: `Bearer ${await accessToken()}`, accept: 'application/json' } }, `secret ${name}`);
    if (response.status === 401 && !retried) {
      token = null;
      return fetchSecret(reference, name, true);
    }
    if (!response.ok) throw unavailable(`secret ${name} answered HTTP ${response.status}`);
    const body = (await response.json().catch(() => null)) as { secret?: { secretValue?: unknown; version?: unknown } } | null;
    const value = body?.secret?.secretValue;
    if (typeof value !== 'string') throw unavailable(`secret ${name}: the answer has no secretValue`);
    return { value: Buffer.from(value, 'utf8'), version: typeof body?.secret?.version === 'number' ? body.secret.version : 0 };
  }

  async function field(reference: InfisicalReference, name: string): Promise<Cached> {
    const key = JSON.stringify([reference.projectId, reference.environment, reference.secretPath, name]);
    const hit = cache.get(key);
    const now = deps.clock.now();
    if (hit && hit.expiresAt > now) return hit;
    if (hit) {
      hit.value.fill(0);
      cache.delete(key);
    }
    const fetched = await fetchSecret(reference, name);
    const entry = { ...fetched, expiresAt: now + settings.cacheMs };
    if (settings.cacheMs > 0) cache.set(key, entry);
    return entry;
  }

  return {
    async load(reference) {
      const got = new Map<string, Cached>();
      for (const [fieldName, secretName] of Object.entries(reference.keys)) got.set(fieldName, await field(reference, secretName));
      // One Buffer for the caller to wipe; the cache keeps its own copies until they expire.
      const plain = encodeFields(new Map([...got].map(([name, c]) => [name, c.value])));
      if (settings.cacheMs <= 0) for (const c of got.values()) c.value.fill(0);
      return { version: Math.max(0, ...[...got.values()].map((c) => c.version)), plain, fields: decodeFields(plain) };
    },
    close() {
      for (const c of cache.values()) c.value.fill(0);
      cache.clear();
      token = null;
    },
  };
}
