import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a real server, that a test
 * can cut: every open connection is reset and new ones are dropped as soon
 * as they arrive, until `restore()`. This is how a database outage looks to
 * a client: a link that dies mid-query and connections that fail.
 */
export interface TcpProxy {
  readonly port: number;
  readonly isCut: boolean;
  /** Connections accepted and forwarded so far (not counting refused ones). */
  readonly forwarded: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let isCut = false;
  let forwarded = 0;

  const server = createServer((client) => {
    if (isCut) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    forwarded += 1;
    const upstream = connect({ host: target.host, port: target.port });
    const track = (socket: Socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      // Errors of a cut link are expected; the peer sees them as a closed connection.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    };
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  const port = address.port;

  return {
    port,
    get isCut() {
      return isCut;
    },
    get forwarded() {
      return forwarded;
    },
    rewrite(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      isCut = true;
      for (const socket of open) {
        if (socket.destroyed) continue;
        // A reset, not a polite FIN: the client learns of the cut mid-query.
        if (socket.remoteAddress === '127.0.0.1' && socket.localPort === port) socket.resetAndDestroy();
        else socket.destroy();
      }
    },
    restore() {
      isCut = false;
    },
    async close() {
      isCut = true;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
