import { Writable } from 'node:stream';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A real webhook receiver on 127.0.0.1, port 0, answering each POST with the next status of `statuses` (then the last one). */
export async function startReceiver(statuses: number[] = [204]): Promise<{ url: string; deliveries: Delivery[]; hold(ms: number): void; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  let holdMs = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = () => {
        deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), path: request.url ?? '' });
        const status = statuses[Math.min(deliveries.length - 1, statuses.length - 1)]!;
        response.writeHead(status).end();
      };
      if (holdMs > 0) setTimeout(answer, holdMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks/webasset?key=canary-url-query-secret`,
    deliveries,
    hold(ms) {
      holdMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Everything a logger writes, to search for canaries (kept here so these tests do not start the whole server). */
export class LogLines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  text(): string {
    return this.lines.join('');
  }
}
