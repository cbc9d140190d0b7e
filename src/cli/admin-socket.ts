import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import type { Actor } from '../audit/index.js';
import type { CliIo } from './io.js';

/**
 * With the embedded database only the server process may open the data
 * folder, so one-shot commands (`audit verify`, `tokens create`, ...) run
 * inside the server instead: the CLI sends its arguments over a Unix socket
 * in the data folder (mode 0600, so only the account that owns the data can
 * connect, which could read the database files anyway) and relays the output.
 */
export const ADMIN_SOCKET_NAME = 'admin.sock';
const MAX_REQUEST_BYTES = 64 * 1024;

type Frame = { stream: 'stdout' | 'stderr'; data: string } | { exit: number };

export interface AdminSocket {
  close(): Promise<void>;
}

type Runner = (argv: string[], io: CliIo, actor: Actor) => Promise<number>;

export async function listenAdminSocket(path: string, run: Runner, cwd: string): Promise<AdminSocket> {
  // We hold the database lock, so a socket file left here belongs to a dead process.
  if (existsSync(path)) unlinkSync(path);
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    void serve(socket, run, cwd);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of connections) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function serve(socket: Socket, run: Runner, cwd: string): Promise<void> {
  const send = (frame: Frame) => socket.write(`${JSON.stringify(frame)}\n`);
  const request = await readRequest(socket);
  if (!request) {
    send({ stream: 'stderr', data: 'error [invalid_request]: malformed admin request\n' });
    send({ exit: 2 });
    socket.end();
    return;
  }
  const framed = (stream: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        if (send({ stream, data: chunk.toString() })) done();
        else socket.once('drain', () => done());
      },
    });
  // Standard input travels in the request (a vault value, `vault set --stdin`), never in argv.
  const stdin = new PassThrough();
  stdin.end(request.stdin ?? Buffer.alloc(0));
  const code = await run(request.argv, { env: {}, cwd, stdin, stdout: framed('stdout'), stderr: framed('stderr') }, request.actor);
  request.stdin?.fill(0);
  send({ exit: code });
  socket.end();
}

/**
 * The caller names itself; the socket's 0600 mode means it is the data folder's
 * owner (or root) whatever it claims, and the audit record says it came this way.
 */
function readRequest(socket: Socket): Promise<{ argv: string[]; actor: Actor; stdin?: Buffer | undefined } | null> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline === -1 && buffered.length < MAX_REQUEST_BYTES) return;
      socket.off('data', onData);
      try {
        const request = JSON.parse(buffered.slice(0, newline)) as { argv?: unknown; actorId?: unknown; actorName?: unknown; stdin?: unknown };
        const ok = Array.isArray(request.argv) && request.argv.every((a) => typeof a === 'string');
        const id = typeof request.actorId === 'string' && request.actorId.length <= 256 ? request.actorId : 'unknown';
        const name = typeof request.actorName === 'string' ? request.actorName.slice(0, 200) : id;
        const stdin = typeof request.stdin === 'string' ? Buffer.from(request.stdin, 'base64') : undefined;
        resolve(ok ? { argv: request.argv as string[], actor: { kind: 'user', id, name: `${name} via admin socket` }, stdin } : null);
      } catch {
        resolve(null);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(null));
  });
}

/** Runs `argv` in the server that owns the data folder; null when no server answers. */
export function forwardToServer(path: string, argv: string[], actor: Actor, io: CliIo, stdin?: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(null);
    const socket = createConnection(path);
    let buffered = '';
    let exit: number | null = null;
    socket.once('error', () => resolve(null));
    socket.on('connect', () => socket.write(`${JSON.stringify({ argv, actorId: actor.id, actorName: actor.name, ...(stdin ? { stdin: stdin.toString('base64') } : {}) })}\n`));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const frame = JSON.parse(buffered.slice(0, newline)) as Frame;
        buffered = buffered.slice(newline + 1);
        if ('exit' in frame) exit = frame.exit;
        else (frame.stream === 'stdout' ? io.stdout : io.stderr).write(frame.data);
      }
    });
    socket.once('close', () => resolve(exit ?? 1));
  });
}
