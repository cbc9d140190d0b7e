import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/**
 * A real nginx (the Debian package) in front of a test upstream, configured
 * the way README "ForwardAuth" tells operators to: every request first goes
 * to our `/authz` through `auth_request`; on 200 the identity headers are
 * copied to the upstream, on 401 the client is redirected to the sign-in URL
 * /authz named, on 403 the client gets 403. Headers a client sends under our
 * identity names never reach the upstream.
 */

/** Where Debian puts nginx; NGINX_BIN overrides it for other layouts. */
export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

/** Why the nginx tests cannot run here, or undefined when they can. */
export function nginxMissingReason(): string | undefined {
  return existsSync(NGINX_BIN) ? undefined : `nginx is not installed (${NGINX_BIN} not found; apt-get install nginx-light, or set NGINX_BIN)`;
}

/** The identity headers /authz answers with; nginx copies exactly these to the upstream. */
export const IDENTITY_HEADERS = ['X-Webasset-User', 'X-Webasset-Email', 'X-Webasset-Groups'] as const;

export interface NginxOptions {
  /** Base URL of our server (its /authz is asked). */
  authzUrl: string;
  /** Base URL of the upstream that nginx protects. */
  upstreamUrl: string;
}

export interface RunningNginx {
  /** `http://127.0.0.1:<port>`: send requests here with the Host header of the protected site. */
  url: string;
  port: number;
  /** The generated configuration, for failure messages. */
  config: string;
  /** nginx's error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** Synchronous kills for the processes still running when this process exits. */
const RUNNING = new Map<RunningNginx, () => void>();
let exitHookInstalled = false;

/**
 * Starts nginx as a child process with its own prefix in a temporary folder
 * (config, pid, logs, temp paths). As root it runs as `nobody`, so the test
 * never runs a root nginx. Resolves once it accepts connections.
 */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const missing = nginxMissingReason();
  if (missing) throw new Error(missing);
  installExitHook();
  // The port is picked by binding port 0 and released just before nginx binds it; another
  // process may take it in between, so a clash is retried with a new port.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function startOnce(options: NginxOptions, port: number): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'webasset-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, sub));
  const config = nginxConfig({ dir, port, authz: new URL(options.authzUrl), upstream: new URL(options.upstreamUrl) });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, config);
  const errorLogPath = join(dir, 'logs', 'error.log');
  writeFileSync(errorLogPath, '');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownTree(dir, ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs', 'logs/error.log']);

  // -e: nginx opens its error log before it reads the config; the default path needs root.
  const child = spawn(NGINX_BIN, ['-p', dir, '-c', confPath, '-e', errorLogPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');

  const ready = await Promise.race([waitForPort(port, 10_000).then(() => true), exited.then(() => false)]);
  if (!ready) {
    const log = `${output}\n${errorLog()}`;
    rmSync(dir, { recursive: true, force: true });
    if (/Address already in use/.test(log)) throw new PortInUseError(log);
    throw new Error(`nginx did not start:\n${log}\n--- config ---\n${config}`);
  }

  let stopping: Promise<void> | undefined;
  const running: RunningNginx = {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    errorLog,
    stop() {
      stopping ??= (async () => {
        RUNNING.delete(running);
        await stopChild(child, exited);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  RUNNING.set(running, () => {
    // SIGTERM is nginx's fast stop: the master takes its workers down with it.
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  return running;
}

const NOBODY = 65534;

function chownTree(dir: string, entries: string[]): void {
  chownSync(dir, NOBODY, NOBODY);
  for (const entry of entries) chownSync(join(dir, entry), NOBODY, NOBODY);
}

/** SIGQUIT is nginx's graceful stop; SIGKILL if it does not go in time. */
async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that fails before its afterAll must not leave an nginx behind; 'exit' allows only synchronous work.
  process.once('exit', () => {
    for (const kill of RUNNING.values()) kill();
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** nginx's lowercase variable for a response header of the auth sub-request. */
const upstreamVar = (header: string) => `$upstream_http_${header.toLowerCase().replaceAll('-', '_')}`;
const authVar = (header: string) => `$webasset_${header.toLowerCase().replace(/^x-webasset-/, '')}`;

/** The nginx.conf of README "ForwardAuth", with test paths and ports. */
export function nginxConfig(input: { dir: string; port: number; authz: URL; upstream: URL }): string {
  const { dir, port, authz, upstream } = input;
  const setIdentity = IDENTITY_HEADERS.map((h) => `      auth_request_set ${authVar(h)} ${upstreamVar(h)};`).join('\n');
  // proxy_set_header replaces a header of the same name sent by the client; an empty value drops it.
  const passIdentity = IDENTITY_HEADERS.map((h) => `      proxy_set_header ${h} ${authVar(h)};`).join('\n');
  const clearIdentity = IDENTITY_HEADERS.map((h) => `      proxy_set_header ${h} "";`).join('\n');
  return `# Generated by test/support/nginx.ts
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;

events {
  worker_connections 512;
}

http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server_tokens off;

  upstream webasset {
    server ${authz.host};
    keepalive 16;
  }

  upstream app {
    server ${upstream.host};
  }

  server {
    listen 127.0.0.1:${port};
    server_name _;

    location = /_authz {
      internal;
      proxy_pass http://webasset/authz;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # Not needed (/authz ignores them), but nothing a client sends under our names travels on.
${clearIdentity}
    }

    location @webasset_signin {
      return 302 $webasset_signin;
    }

    location / {
      auth_request /_authz;
${setIdentity}
      auth_request_set $webasset_signin $upstream_http_location;
      error_page 401 = @webasset_signin;
      proxy_pass http://app;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
${passIdentity}
    }
  }
}
`;
}

export interface EchoRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface EchoUpstream {
  url: string;
  /** Every request that reached the upstream, in order. */
  requests: EchoRequest[];
  close(): Promise<void>;
}

/** The protected application: answers 200 with the headers it received, as JSON. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const requests: EchoRequest[] = [];
  const server = createHttpServer((req, res) => {
    const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    requests.push(seen);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
