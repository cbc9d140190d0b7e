import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Infisical's REST API, answering the two calls the vault makes exactly as
 * Infisical documents them: Universal Auth login and "get a secret by name" (raw).
 */
export interface InfisicalStub {
  url: string;
  /** `${environment}:${secretPath}:${name}` → value, per project id. */
  secrets: Map<string, { value: string; version: number }>;
  requests: string[];
  /** Answer every request with this status (simulating an outage); null: normal. */
  failWith: number | null;
  close(): Promise<void>;
}

export async function startInfisicalStub(options: { projectId: string; clientId: string; clientSecret: string }): Promise<InfisicalStub> {
  const tokens = new Set<string>();
  const stub: Omit<InfisicalStub, 'url' | 'close'> = { secrets: new Map(), requests: [], failWith: null };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    stub.requests.push(`${req.method} ${url.pathname}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (stub.failWith !== null) return send(stub.failWith, { statusCode: stub.failWith, message: 'stub outage', error: 'Error' });
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        let body: { clientId?: string; clientSecret?: string } = {};
        try {
          body = JSON.parse(raw) as typeof body;
        } catch {
          return send(400, { statusCode: 400, message: 'bad body', error: 'BadRequest' });
        }
        if (body.clientId !== options.clientId || body.clientSecret !== options.clientSecret) {
          return send(401, { statusCode: 401, message: 'Invalid credentials', error: 'UnauthorizedError' });
        }
        const accessToken = `stub-token-${tokens.size + 1}`;
        tokens.add(accessToken);
        send(200, { accessToken, expiresIn: 7200, accessTokenMaxTTL: 2592000, tokenType: 'Bearer' });
      });
      return;
    }
    const m = /^\/api\/v3\/secrets\/raw\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) return send(401, { statusCode: 401, message: 'Token missing', error: 'UnauthorizedError' });
      const name = decodeURIComponent(m[1]!);
      const environment = url.searchParams.get('environment');
      const secretPath = url.searchParams.get('secretPath') ?? '/';
      if (url.searchParams.get('workspaceId') !== options.projectId) return send(404, { statusCode: 404, message: 'Project not found', error: 'NotFound' });
      const found = stub.secrets.get(`${environment}:${secretPath}:${name}`);
      if (!found) return send(404, { statusCode: 404, message: `Secret with name '${name}' not found`, error: 'NotFound' });
      return send(200, {
        secret: {
          id: `id-${name}`,
          _id: `id-${name}`,
          workspace: options.projectId,
          environment,
          version: found.version,
          type: 'shared',
          secretKey: name,
          secretValue: found.value,
          secretComment: '',
          secretPath,
        },
      });
    }
    send(404, { statusCode: 404, message: 'Route not found', error: 'NotFound' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(stub as InfisicalStub, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
