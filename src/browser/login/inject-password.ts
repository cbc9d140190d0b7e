import { randomInt } from 'node:crypto';
import type { BrowserContext, Request, Route } from 'playwright-core';
import type { LoginGuard } from '../types.js';

/**
 * Injection that page scripts cannot read: the page gets a random placeholder in its password
 * field, and the real password replaces it only in the outgoing request to the login endpoint.
 * The portal's scripts, a "show password" toggle and the live view only ever hold the placeholder.
 * Works where the portal sends the field as typed (form posts, JSON fetches); portals that hash or
 * encrypt it in the page need `injection: 'fill'`.
 */
export interface PasswordInjector {
  /** Typed into the page instead of the password: same length, digits only for a numeric PIN. */
  readonly placeholder: string;
  /**
   * Allows the swap for the endpoint of one filled field: a form submission (navigation) only to the
   * form's action URL, a script's request (fetch, XHR) only to the same origin as that URL.
   */
  arm(endpointUrl: string): void;
  /** Requests the real password went out in. */
  readonly swaps: number;
  uninstall(): Promise<void>;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const ALPHANUMERIC = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export async function installPasswordInjector(context: BrowserContext, guard: LoginGuard, password: Buffer): Promise<PasswordInjector> {
  const placeholder = makePlaceholder(password.toString('utf8'));
  const placeholderBytes = Buffer.from(placeholder, 'utf8');
  const actions = new Set<string>();
  const origins = new Set<string>();
  let swaps = 0;

  const armedFor = (request: Request): boolean => {
    const url = withoutHash(request.url());
    if (url === undefined || !guard.isAllowedOrigin(request.url())) return false;
    return request.isNavigationRequest() ? actions.has(url) : origins.has(new URL(url).origin);
  };

  // Registered after the navigation lock, so it runs first and hands the (changed) request on with
  // fallback(): the lock still decides whether the request may leave at all.
  const handler = async (route: Route, request: Request): Promise<void> => {
    const body = BODY_METHODS.has(request.method()) && actions.size > 0 ? request.postDataBuffer() : null;
    if (!body || !body.includes(placeholderBytes) || !armedFor(request)) return route.fallback();
    const swapped = swapPlaceholder(body, request.headers()['content-type'] ?? '', placeholder, password.toString('utf8'));
    if (swapped === undefined) return route.fallback();
    swaps++;
    return route.fallback({ postData: swapped });
  };
  await context.route('**/*', handler);

  return {
    placeholder,
    get swaps() {
      return swaps;
    },
    arm(endpointUrl) {
      const url = withoutHash(endpointUrl);
      if (url === undefined) return;
      actions.add(url);
      origins.add(new URL(url).origin);
    },
    async uninstall() {
      await context.unroute('**/*', handler).catch(() => undefined);
    },
  };
}

/** A random stand-in of the password's length: digits for a digits-only PIN (inputs often demand it), else letters and digits. */
export function makePlaceholder(password: string): string {
  const length = Math.max(1, [...password].length);
  const alphabet = /^[0-9]+$/.test(password) ? '0123456789' : ALPHANUMERIC;
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** The body with the placeholder replaced, in the body's own encoding; undefined when the format is not one we can rewrite safely. */
export function swapPlaceholder(body: Buffer, contentType: string, placeholder: string, real: string): Buffer | undefined {
  const type = contentType.toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return Buffer.from(swapForm(body.toString('latin1'), placeholder, real), 'latin1');
  if (type.startsWith('application/json') || type.endsWith('+json')) return swapJson(body.toString('utf8'), placeholder, real);
  if (type.startsWith('multipart/form-data')) return swapBytes(body, Buffer.from(placeholder, 'utf8'), Buffer.from(real, 'utf8'));
  return undefined;
}

/** Pair by pair, so the other fields go out byte for byte as the browser encoded them. */
function swapForm(body: string, placeholder: string, real: string): string {
  return body
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at === -1) return pair;
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
      } catch {
        return pair;
      }
      if (!value.includes(placeholder)) return pair;
      return `${pair.slice(0, at)}=${encodeURIComponent(value.split(placeholder).join(real)).replace(/%20/g, '+')}`;
    })
    .join('&');
}

function swapJson(body: string, placeholder: string, real: string): Buffer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return value.split(placeholder).join(real);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return Buffer.from(JSON.stringify(walk(parsed)), 'utf8');
}

function swapBytes(body: Buffer, from: Buffer, to: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let found = body.indexOf(from, at); found !== -1; found = body.indexOf(from, at)) {
    parts.push(body.subarray(at, found), to);
    at = found + from.length;
  }
  parts.push(body.subarray(at));
  return Buffer.concat(parts);
}

function withoutHash(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    parsed.hash = '';
    return parsed.href;
  } catch {
    return undefined;
  }
}
