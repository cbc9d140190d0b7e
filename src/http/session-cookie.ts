import type { FastifyReply, FastifyRequest } from 'fastify';

/** The session cookie when Secure applies. The `__Host-` prefix makes browsers refuse it unless Secure, Path=/ and no Domain. */
export const SESSION_COOKIE = '__Host-webasset';
/**
 * The session cookie on plain HTTP (a developer's localhost): browsers refuse
 * `__Host-` without Secure. It is never read on a secure request, so a cookie
 * planted by a sibling host under this name cannot be slipped in there.
 */
export const INSECURE_SESSION_COOKIE = 'webasset';

/** Reads, sets and clears the session cookie; its name and Secure flag follow the request's scheme. */
export interface SessionCookies {
  /** True when the request came over TLS (directly, or X-Forwarded-Proto from a trusted proxy), or the public URL is https. */
  isSecure(request: FastifyRequest): boolean;
  /** The same for a scheme read from the request by hand (the ForwardAuth fast path, forwarded-request.ts). */
  isSecureScheme(proto: string): boolean;
  /**
   * The session cookie straight from a Cookie header, for the ForwardAuth fast path (which runs without
   * @fastify/cookie). Only plain values (what we issue), and the first of a repeated name as @fastify/cookie
   * reads it; anything encoded or quoted gives undefined, and the caller leaves the request to the full route.
   */
  readHeader(header: string | undefined, proto: string): string | undefined;
  name(request: FastifyRequest): string;
  read(request: FastifyRequest): string | undefined;
  set(reply: FastifyReply, request: FastifyRequest, value: string): void;
  clear(reply: FastifyReply, request: FastifyRequest): void;
}

const PLAIN_VALUE = /^[A-Za-z0-9_-]{1,256}$/;

export function createSessionCookies(options: { publicUrl?: string | undefined }): SessionCookies {
  const publicHttps = options.publicUrl !== undefined && new URL(options.publicUrl).protocol === 'https:';
  const isSecureScheme = (proto: string) => publicHttps || proto === 'https';
  // request.protocol honours X-Forwarded-Proto only when the peer is a trusted proxy (Fastify's trustProxy).
  const isSecure = (request: FastifyRequest) => isSecureScheme(request.protocol);
  const nameFor = (secure: boolean) => (secure ? SESSION_COOKIE : INSECURE_SESSION_COOKIE);
  const name = (request: FastifyRequest) => nameFor(isSecure(request));
  const attributes = (request: FastifyRequest) =>
    ({ path: '/', httpOnly: true, sameSite: 'lax', secure: isSecure(request) }) as const;
  return {
    isSecure,
    isSecureScheme,
    name,
    readHeader(header, proto) {
      if (header === undefined) return undefined;
      const wanted = nameFor(isSecureScheme(proto));
      for (const part of header.split(';')) {
        const eq = part.indexOf('=');
        if (eq === -1 || part.slice(0, eq).trim() !== wanted) continue;
        const value = part.slice(eq + 1).trim();
        return PLAIN_VALUE.test(value) ? value : undefined;
      }
      return undefined;
    },
    read(request) {
      const value = request.cookies[name(request)];
      return typeof value === 'string' && value !== '' ? value : undefined;
    },
    set(reply, request, value) {
      // No Max-Age: the server decides when the session ends; the browser forgets it when it closes.
      void reply.setCookie(name(request), value, attributes(request));
    },
    clear(reply, request) {
      void reply.clearCookie(name(request), attributes(request));
    },
  };
}
