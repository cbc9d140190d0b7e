import { createServer, type Server } from 'node:http';
import type { FastifyServerFactory } from 'fastify';
import type { ForwardAuthFastPath } from './forward-auth-fast-path.js';

/**
 * Fastify's own HTTP/1.1 server (the same timeouts Fastify would set), with
 * the ForwardAuth fast path in front of its router: a request the fast path
 * claims but does not answer, or fails on, goes to Fastify unchanged (a GET
 * has no body to have consumed).
 */
export function serverWithFastPath(fastPath: ForwardAuthFastPath): FastifyServerFactory {
  return (fastify, options) => {
    const server: Server = createServer(options.http ?? {}, (req, res) => {
      if (!fastPath.claims(req)) return fastify(req, res);
      fastPath.answer(req, res).then(
        (answered) => {
          if (!answered) fastify(req, res);
        },
        () => fastify(req, res),
      );
    });
    // Fastify has filled in its defaults by now; they are numbers.
    const { keepAliveTimeout, requestTimeout, connectionTimeout, maxRequestsPerSocket } = options;
    if (typeof keepAliveTimeout === 'number') server.keepAliveTimeout = keepAliveTimeout;
    if (typeof requestTimeout === 'number') server.requestTimeout = requestTimeout;
    if (typeof connectionTimeout === 'number') server.setTimeout(connectionTimeout);
    if (typeof maxRequestsPerSocket === 'number' && maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
    return server;
  };
}
