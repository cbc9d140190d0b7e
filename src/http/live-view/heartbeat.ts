import WebSocket from 'ws';

/** Default of WEBASSET_LIVE_VIEW_PING_SECONDS: under the 60 s idle timeout of common proxies (nginx proxy_read_timeout, load balancers). */
export const DEFAULT_PING_INTERVAL_MS = 25_000;

/**
 * Pings `socket` every `intervalMs` and terminates it when the ping sent at the previous beat
 * has had no pong by this one: a viewer that went away without a word (laptop asleep, NAT entry
 * dropped) is cut within two intervals, and its socket then closes (1006) through the same path
 * as any other disconnect. The pings also keep a quiet view alive through proxies that cut idle
 * connections. Browsers answer pings themselves. A socket this node paused (relay backpressure)
 * reads no pong, so a beat while paused waits instead of counting a miss. Stops by itself when
 * the socket closes; returns the function that stops it earlier.
 */
export function keepAlive(socket: WebSocket, intervalMs: number): () => void {
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw new TypeError('keepAlive: intervalMs must be a positive whole number');
  let awaitingPong = false;
  const onPong = () => {
    awaitingPong = false;
  };
  const timer = setInterval(() => {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.isPaused) {
      awaitingPong = false;
      return;
    }
    if (awaitingPong) {
      socket.terminate();
      return;
    }
    awaitingPong = true;
    socket.ping();
  }, intervalMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    socket.off('pong', onPong);
    socket.off('close', stop);
  };
  socket.on('pong', onPong);
  socket.on('close', stop);
  return stop;
}
