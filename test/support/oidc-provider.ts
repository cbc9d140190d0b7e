import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type OidcContext } from 'oidc-provider';

/** A person at the test identity provider. Tests may change `groups`, `amr` and `acr` between sign-ins. */
export interface IdpUser {
  sub: string;
  username: string;
  email?: string;
  name?: string;
  groups: string[];
  /** Authentication methods the provider reports (`amr`), e.g. ['pwd', 'otp']. */
  amr?: string[];
  acr?: string;
}

export interface TestIdpOptions {
  /** Where the provider may send the browser back to (our callback). */
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  clientId?: string;
  clientSecret?: string;
  users?: IdpUser[];
  /**
   * true: profile, email and groups only from UserInfo (oidc-provider's default);
   * false (default here): in the ID token as well, as Authentik and Keycloak do.
   */
  conformIdTokenClaims?: boolean;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  users: Map<string, IdpUser>;
  /** Requests to the token endpoint so far. */
  readonly tokenRequests: number;
  /** Every access token value issued (opaque tokens: the value is the jti), for canary searches. */
  issuedAccessTokens: string[];
  stop(): Promise<void>;
}

const SCOPES = ['openid', 'profile', 'email', 'groups'];

/**
 * A real OpenID provider (oidc-provider 8) on 127.0.0.1, port 0, with one
 * confidential client (code flow, PKCE required, RP-initiated logout) and a
 * tiny login step of our own in place of its development UI: the test's
 * browser posts `username` to `/interaction/:uid/login` (or posts to
 * `/interaction/:uid/abort` to refuse), and consent is granted on the spot.
 */
export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const users = new Map((options.users ?? []).map((u) => [u.username, u]));
  const clientId = options.clientId ?? 'webasset-test';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  let tokenRequests = 0;
  const issuedAccessTokens: string[] = [];
  // The issuer URL needs the port, and the provider needs the issuer: listen first, route once the provider exists.
  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const server: Server = createServer((req, res) => {
    if (!route.handler) {
      res.statusCode = 503;
      res.end();
      return;
    }
    route.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const bySub = (sub: string) => [...users.values()].find((u) => u.sub === sub);
  // As PEM, then a key object of its own: exporting the generated key object itself as a JWK could
  // deadlock Node 20 when a garbage collection during the export freed the key-generation job that
  // shares its lock (seen in CI: the worker stuck in ExportJWK -> GC -> ~KeyGenJob -> mutex lock).
  const privateKey = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).privateKey);
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true, methods: ['S256'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Grant: 600, Session: 3600 },
    scopes: SCOPES,
    claims: {
      // acr and amr in every ID token, as Authentik and Keycloak send them.
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      // Authentik's default profile mapping carries the groups claim.
      profile: ['name', 'preferred_username', 'groups'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
      acr: null,
      amr: null,
      sid: null,
      auth_time: null,
      iss: null,
    },
    acrValues: ['urn:test:pwd', 'urn:test:mfa', 'goldmfa'],
    conformIdTokenClaims: options.conformIdTokenClaims ?? false,
    features: {
      devInteractions: { enabled: false },
      // The provider's confirmation step, as a plain form: the test's browser presses "yes" (button name=logout value=yes).
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: { body: string }, form: string) {
          ctx.body = `<!doctype html><html><head><title>Sign out</title></head><body>${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign me out</button></body></html>`;
        },
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: unknown, sub: string) {
      const user = bySub(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          preferred_username: user.username,
          name: user.name ?? user.username,
          email: user.email,
          email_verified: user.email !== undefined,
          groups: user.groups,
        }),
      };
    },
    // Consent is not what these tests are about: every requested scope is granted.
    async loadExistingGrant(ctx: OidcContext) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });
  provider.on('grant.success', () => {
    tokenRequests += 1;
  });
  provider.on('grant.error', () => {
    tokenRequests += 1;
  });
  provider.on('access_token.saved', (token) => {
    issuedAccessTokens.push((token as { jti: string }).jti);
  });
  const oidc = provider.callback();

  route.handler = (req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/login|\/abort)?$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) {
      oidc(req, res);
      return;
    }
    void interaction(req, res, match[2]).catch((error: unknown) => {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'interaction_failed', message: error instanceof Error ? error.message : String(error) }));
    });
  };

  async function interaction(req: IncomingMessage, res: ServerResponse, step: string | undefined): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (step === undefined && req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
      return;
    }
    if (req.method !== 'POST') throw new Error('method not allowed');
    if (step === '/abort') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'refused at the provider' }, { mergeWithLastSubmission: false });
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    const user = users.get(form.get('username') ?? '');
    if (!user) throw new Error('unknown user');
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.sub, amr: user.amr, acr: user.acr, remember: true } },
      { mergeWithLastSubmission: false },
    );
  }

  return {
    issuer,
    clientId,
    clientSecret,
    users,
    issuedAccessTokens,
    get tokenRequests() {
      return tokenRequests;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
