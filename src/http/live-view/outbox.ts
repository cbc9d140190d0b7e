import type { WebSocket } from 'ws';
import type { ServerMessage } from './messages.js';

/** Above this many unsent bytes, replies that can be lost (error notices) are skipped rather than queued. */
const DROPPABLE_ABOVE_BYTES = 256 * 1024;

/** Text messages to one viewer. A viewer that does not read cannot make error replies pile up. */
export function createOutbox(socket: WebSocket) {
  return {
    send(message: ServerMessage, options: { droppable?: boolean } = {}): void {
      if (socket.readyState !== socket.OPEN) return;
      if (options.droppable && socket.bufferedAmount > DROPPABLE_ABOVE_BYTES) return;
      socket.send(JSON.stringify(message));
    },
    close(code: number, reason: string): void {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    },
  };
}
export type Outbox = ReturnType<typeof createOutbox>;
