import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ForwardAuthGate } from '../access/index.js';
import type { Principal, ResolvedSession, WebSessions } from '../identity/index.js';
import { forwardedRequest, type ForwardedRequest } from './forwarded-request.js';
import type { LoadShedder } from './load-shed.js';
import { requestIdOf } from './request-id.js';
import type { SessionCookies } from './session-cookie.js';
import { HSTS } from './security-headers.js';
import { identityHeaders, shedAnswer, type ForwardAuthStats } from './routes/authz.js';

/**
 * GET /authz without Fastify, for the one answer that dominates a proxy's
 * traffic: a signed-in browser passing. Proxies ask before every request of
 * every page, so this check is on the path of everything they protect; the
 * full stack (request and reply objects, a logger per request, five hooks)
 * cost three times what the decision itself does.
 *
 * It is not a second set of rules. It reads the same facts
 * (forwarded-request.ts), resolves the same cookie through the same session
 * service, and asks the same gate (`passes`, the pure twin of `check`). It
 * answers only two ways: 200 with the identity headers when the gate lets
 * the caller pass, and 503 when the check is shed (too many in flight, or,
 * while the event loop is behind, a check that would read the session store). Everything else (no or
 * unknown cookie, a session that must rotate, a denial to audit, a bearer
 * token, a query it does not know, shutdown, an error) is handed to the
 * Fastify route untouched, which answers as it always did; the route stays
 * in the route table and the authorization matrix.
 */
export interface ForwardAuthFastPath {
  /** Synchronous and cheap: whether the request is a plain GET /authz worth trying here. */
  claims(req: IncomingMessage): boolean;
  /**
   * Resolves true when it answered; false when it wrote nothing and the request goes to Fastify. A check the
   * per-node session cache answers is decided and written before this returns (the promise is already settled).
   */
  answer(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export interface ForwardAuthFastPathDeps {
  gate: ForwardAuthGate;
  sessions: Pick<WebSessions, 'resolve' | 'resolveCached'>;
  isTrustedProxy(peer: string | undefined): boolean;
  /** Which cookie a request of a given scheme carries, and reading it from the raw header. */
  cookies: Pick<SessionCookies, 'isSecureScheme' | 'readHeader'>;
  stats: ForwardAuthStats;
  shedder: LoadShedder;
  isShuttingDown(): boolean;
  logger: Logger;
}

/** The URLs a proxy is configured with; any other query goes to the route, which validates it. */
const CLAIMED_URLS = new Set(['/authz', '/authz?redirect=true', '/authz?redirect=false']);
const BEARER_SCHEME = /^Bearer(\s|$)/i;
/** What a pass derives from one principal snapshot: its header lines (name, value, ...; the request id at [1]) for plain and TLS proxies, and where it may pass. */
interface PassMemo {
  headers: readonly string[];
  secureHeaders: readonly string[];
  /** The gate's answer per host named by the proxy (as sent, before normalizing). */
  hosts: Map<string | undefined, boolean>;
}
const MAX_MEMO_HOSTS = 16;

/** Settled answers of a check decided synchronously (shared: a caller's `then` never changes them). */
const ANSWERED = Promise.resolve(true);
const NOT_ANSWERED = Promise.resolve(false);

export function createForwardAuthFastPath(deps: ForwardAuthFastPathDeps): ForwardAuthFastPath {
  const { gate, sessions, stats, shedder, logger } = deps;

  const shed = (req: IncomingMessage, res: ServerResponse) => {
    stats.shed += 1;
    const answer = shedAnswer(requestIdOf(req));
    res.writeHead(503, answer.headers).end(answer.body);
  };

  // The cache's answer for a session is one frozen object per cached record (WebSessions.resolveCached), so what a pass
  // derives from its principal is kept for exactly as long as that record is cached, and dropped with it.
  const memos = new WeakMap<Principal, PassMemo>();
  const memoOf = (principal: Principal): PassMemo => {
    let memo = memos.get(principal);
    if (memo === undefined) {
      const lines = ['x-request-id', '', 'cache-control', 'no-store', ...Object.entries(identityHeaders(principal)).flat(), 'content-length', '0'];
      memo = { headers: lines, secureHeaders: [...lines, 'strict-transport-security', HSTS], hosts: new Map() };
      memos.set(principal, memo);
    }
    return memo;
  };
  // The gate's `passes` depends on the principal, the host and the rules fixed at start, not on the time.
  const passesTo = (memo: PassMemo, principal: Principal, host: string | undefined): boolean => {
    let passes = memo.hosts.get(host);
    if (passes === undefined) {
      passes = gate.passes(principal, host);
      // Hosts come from the request: a few per snapshot are kept, the rest decided each time.
      if (memo.hosts.size < MAX_MEMO_HOSTS) memo.hosts.set(host, passes);
    }
    return passes;
  };

  /** The answer to a resolved session: 200 when the gate lets it pass; false (the route's work) otherwise. */
  const settle = (req: IncomingMessage, res: ServerResponse, original: ForwardedRequest, resolved: ResolvedSession | null): boolean => {
    // Unknown cookies are cleared, rotations issue a new cookie and denials are audited: all the route's work.
    if (!resolved || resolved.rotate) return false;
    const memo = memoOf(resolved.principal);
    if (!passesTo(memo, resolved.principal, original.host)) return false;
    if (res.destroyed) return true;
    stats.allowed += 1;
    stats.allowedFast += 1;
    const headers = (deps.cookies.isSecureScheme(original.proto) ? memo.secureHeaders : memo.headers).slice();
    headers[1] = requestIdOf(req);
    res.writeHead(200, headers).end();
    if (logger.isLevelEnabled('debug')) logger.debug({ host: original.host, user: resolved.principal.id }, 'forward auth: allowed (fast path)');
    return true;
  };

  /** Synchronous when the per-node cache answers (most checks): no promise until the session store must be read. */
  const pass = (req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> => {
    const original = forwardedRequest(req, deps.isTrustedProxy(req.socket.remoteAddress));
    const cookie = deps.cookies.readHeader(req.headers.cookie, original.proto);
    if (cookie === undefined) return false;
    const cached = sessions.resolveCached(cookie);
    if (cached !== 'miss') return settle(req, res, original, cached);
    // Short of CPU, a check that needs the store (a read is several times a pass) is the one to refuse; cached ones pass,
    // and a few reads per tenth of a second still go ahead so that busy sessions stay cached.
    if (shedder.behind() && !shedder.allowWhileBehind()) {
      shedder.countShed();
      shed(req, res);
      return true;
    }
    return sessions.resolve(cookie).then((resolved) => settle(req, res, original, resolved));
  };

  return {
    claims(req) {
      if (req.method !== 'GET' || req.url === undefined || !CLAIMED_URLS.has(req.url)) return false;
      const authorization = req.headers.authorization;
      return !(authorization !== undefined && BEARER_SCHEME.test(authorization)) && !deps.isShuttingDown();
    },
    answer(req, res) {
      const admitted = shedder.enter();
      let outcome: boolean | Promise<boolean>;
      try {
        if (!admitted) {
          shed(req, res);
          return ANSWERED;
        }
        outcome = pass(req, res);
      } catch (error) {
        // As from an async function: the caller hands a failed check to Fastify.
        if (admitted) shedder.leave();
        return Promise.reject(error);
      }
      if (typeof outcome === 'boolean') {
        shedder.leave();
        return outcome ? ANSWERED : NOT_ANSWERED;
      }
      return outcome.finally(() => shedder.leave());
    },
  };
}
