import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { CLOSE, MAX_CLIENT_MESSAGE_BYTES } from './messages.js';

const CLOSE_GRACE_MS = 2_000;

/**
 * Fastify's WebSocket support, registered first on the root instance: an
 * upgrade request then runs through the ordinary route lifecycle (every
 * onRequest hook: shutdown check, route access, session cookie), and the
 * plugin's own onRequest hook marks it before any of them can refuse it, so
 * a refused upgrade (401, 403) gets its HTTP answer and its socket is
 * destroyed instead of left open.
 */
export async function registerWebSockets(app: FastifyInstance): Promise<void> {
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false },
    // Viewers are told the server goes away; one that does not answer the closing handshake is cut after a short grace,
    // so it cannot hold the server's close (ws would wait 30 s for it).
    preClose(done) {
      const clients = [...app.websocketServer.clients];
      for (const client of clients) client.close(CLOSE.goingAway, 'server shutting down');
      setTimeout(() => clients.forEach((client) => client.terminate()), CLOSE_GRACE_MS).unref();
      app.websocketServer.close();
      done();
    },
  });
}
