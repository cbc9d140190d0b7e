import { timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import { AppError, type Clock, type ErrorCode, type IdGenerator } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { SharedState } from '../cluster/index.js';
import { mustUseMfa } from './mfa.js';
import { identityFromClaims, mapGroups, providerDidMfa, type OidcGroupMap, type OidcIdentity } from './oidc-claims.js';
import { createOidcDiscovery, describeProviderError, isProviderUnavailable, type OidcDiscovery } from './oidc-discovery.js';
import { checkReturnTo } from './oidc-return-to.js';
import { createOidcTransactions, type OidcTransaction, type OidcTransactions } from './oidc-transactions.js';
import type { Role } from './principal.js';
import type { SessionUser } from './session-store.js';

/** Request facts the sign-in's audit events carry. */
export interface OidcRequestContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/** What single sign-on needs from the user directory (Users). */
export interface OidcUsersPort {
  provisionOidc(input: { issuer: string; subject: string; username: string; email: string | null; name: string }): Promise<{
    id: string;
    username: string;
    disabled: boolean;
    mfaRequired: boolean;
  }>;
  sessionUser(id: string): Promise<SessionUser | null>;
}

/** What single sign-on needs from groups: the user's provider memberships become exactly these names. */
export interface OidcGroupsPort {
  syncOidcMemberships(userId: string, groupNames: readonly string[], context?: OidcRequestContext): Promise<unknown>;
}

/** What single sign-on needs from web sessions. */
export interface OidcSessionsPort {
  create(input: {
    user: SessionUser;
    mfa: boolean;
    method: 'oidc';
    oidc?: { idTokenHint?: string; sid?: string };
    context: OidcRequestContext;
  }): Promise<{ cookieValue: string; sessionId: string; csrfToken: string }>;
}

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  /** Our callback, registered at the provider: `<public URL>/auth/oidc/callback`. */
  redirectUri: string;
  /** Where the provider sends the browser after RP-initiated logout; registered at the provider. */
  postLogoutRedirectUri: string;
  scopes: readonly string[];
  groupsClaim: string;
  groupMap: OidcGroupMap;
  mfaAmr: readonly string[];
  mfaAcr: readonly string[];
  /** Roles that may sign in only with a second factor at the provider. */
  mfaRequiredRoles: readonly Role[];
}

export interface OidcSignInDeps {
  settings: OidcSettings;
  state: SharedState;
  trail: AuditTrail;
  users: OidcUsersPort;
  groups: OidcGroupsPort;
  sessions: OidcSessionsPort;
  clock: Clock;
  ids: IdGenerator;
  warn(detail: Record<string, unknown>, message: string): void;
  /** Sign-ins one client IP may start per minute (each holds a transaction for 10 min). */
  beginLimitPerMinute?: number;
  discovery?: OidcDiscovery;
  /**
   * The one return-URL allowlist (ForwardAuth's hosts, WEBASSET_RETURN_URL_HOSTS, the public URL):
   * an absolute `returnTo` passes only through it. Absent: only paths on this site.
   */
  returnUrls?: { check(url: string): string | undefined };
}

export interface OidcSignIn {
  /** Lifetime of a sign-in transaction (and of its cookie). */
  readonly transactionTtlMs: number;
  /** Starts a sign-in: the provider URL to send the browser to, and the transaction id for its cookie. */
  begin(input: { returnTo?: string | undefined; context: OidcRequestContext }): Promise<{ redirectUrl: string; transactionId: string }>;
  /** Finishes a sign-in at the callback: a new web session and where to land. Every refusal is audited. */
  complete(input: { callbackUrl: URL; transactionId: string | undefined; context: OidcRequestContext }): Promise<{
    cookieValue: string;
    sessionId: string;
    returnTo: string;
    userId: string;
  }>;
  /** The provider's RP-initiated logout URL for a session's OIDC facts, or null when the provider has none (or is down). */
  endSessionUrl(oidc: { idTokenHint?: string | undefined } | null): Promise<string | null>;
}

export const OIDC_TRANSACTION_TTL_MS = 10 * 60_000;

/** Why a callback was refused: stable words for the audit trail and logs, never shown to the client. */
export type SsoFailureReason =
  | 'transaction_missing'
  | 'state_mismatch'
  | 'provider_error'
  | 'code_rejected'
  | 'id_token_invalid'
  | 'claims_invalid'
  | 'account_disabled'
  | 'mfa_required'
  | 'provider_unavailable';

const PUBLIC_CODE: Record<SsoFailureReason, ErrorCode> = {
  transaction_missing: 'sso_failed',
  state_mismatch: 'sso_failed',
  provider_error: 'sso_failed',
  code_rejected: 'sso_failed',
  id_token_invalid: 'sso_failed',
  claims_invalid: 'sso_failed',
  account_disabled: 'account_disabled',
  mfa_required: 'mfa_required',
  provider_unavailable: 'sso_unavailable',
};

class SsoFailure extends Error {
  constructor(
    readonly reason: SsoFailureReason,
    readonly detail: string,
    readonly who: { userId?: string; username?: string; subject?: string } = {},
  ) {
    super(`${reason}: ${detail}`);
  }
}

/**
 * OpenID Connect sign-in (authorization code + PKCE + state + nonce) as
 * named steps. openid-client validates the authorization response and the
 * ID token (signature, iss, aud, exp, nonce); this module decides who the
 * person is here, whether their sign-in is strong enough, and opens the session.
 */
export function createOidcSignIn(deps: OidcSignInDeps): OidcSignIn {
  const { settings, trail, clock } = deps;
  const discovery =
    deps.discovery ??
    createOidcDiscovery({ issuer: new URL(settings.issuer), clientId: settings.clientId, clientSecret: settings.clientSecret, clock, warn: (detail, message) => deps.warn(detail, message) });
  const transactions: OidcTransactions = createOidcTransactions({ state: deps.state, ids: deps.ids, clock, ttlMs: OIDC_TRANSACTION_TTL_MS });
  const beginLimit = deps.beginLimitPerMinute ?? 120;

  function resolveReturnTo(value: string | undefined): string {
    // A path (including `//host`, which checkReturnTo refuses) stays on this site; anything else must be allowlisted.
    if (value === undefined || value === '' || value.startsWith('/')) return checkReturnTo(value);
    const allowed = deps.returnUrls?.check(value);
    if (allowed === undefined) throw new AppError('return_to_invalid');
    return allowed;
  }

  async function throttleBegin(context: OidcRequestContext): Promise<void> {
    const hit = await deps.state.hit(`oidc:begin:${context.sourceIp ?? 'unknown'}`, 60_000, beginLimit);
    if (!hit.allowed) throw new AppError('rate_limited', { data: { retryAfterSeconds: Math.max(1, Math.ceil(hit.retryAfterMs / 1000)) } });
  }

  async function takeTransaction(id: string | undefined): Promise<OidcTransaction> {
    const tx = id ? await transactions.take(id) : null;
    if (!tx) throw new SsoFailure('transaction_missing', id ? 'unknown, expired or already used transaction' : 'no transaction cookie');
    return tx;
  }

  function checkState(tx: OidcTransaction, callbackUrl: URL): void {
    const got = Buffer.from(callbackUrl.searchParams.get('state') ?? '');
    const want = Buffer.from(tx.state);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new SsoFailure('state_mismatch', 'state parameter does not match the transaction');
  }

  async function exchangeCode(config: client.Configuration, tx: OidcTransaction, callbackUrl: URL) {
    // Only the parameters of the callback, on the registered redirect URI: what the provider signed for.
    const current = new URL(settings.redirectUri);
    current.search = callbackUrl.search;
    try {
      return await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: tx.codeVerifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      const detail = describeProviderError(error);
      if (error instanceof client.AuthorizationResponseError) throw new SsoFailure('provider_error', detail);
      if (isProviderUnavailable(error)) throw new SsoFailure('provider_unavailable', detail);
      if (error instanceof client.ResponseBodyError) throw new SsoFailure('code_rejected', detail);
      if (error instanceof client.ClientError) throw new SsoFailure('id_token_invalid', detail);
      throw error;
    }
  }

  async function readIdentity(
    config: client.Configuration,
    tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>,
  ): Promise<OidcIdentity> {
    const claims = tokens.claims();
    if (!claims) throw new SsoFailure('id_token_invalid', 'no ID token');
    let merged: Record<string, unknown> = { ...claims };
    // Some providers put groups only in UserInfo; openid-client checks that its `sub` is the ID token's.
    if (!(settings.groupsClaim in claims) && config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        merged = { ...info, ...claims, [settings.groupsClaim]: info[settings.groupsClaim] };
      } catch (error) {
        if (isProviderUnavailable(error)) throw new SsoFailure('provider_unavailable', describeProviderError(error));
        throw new SsoFailure('claims_invalid', `userinfo: ${describeProviderError(error)}`);
      }
    }
    const identity = identityFromClaims(merged, settings.groupsClaim, claims.iss);
    if (!identity) throw new SsoFailure('claims_invalid', 'no usable sub claim');
    return identity;
  }

  async function provision(identity: OidcIdentity) {
    const user = await deps.users.provisionOidc({
      issuer: identity.issuer,
      subject: identity.subject,
      username: identity.username,
      email: identity.email,
      name: identity.name,
    });
    if (user.disabled) throw new SsoFailure('account_disabled', 'user is disabled', { userId: user.id, username: user.username, subject: identity.subject });
    return user;
  }

  async function loadSessionUser(user: { id: string; username: string }, subject: string): Promise<SessionUser> {
    const snapshot = await deps.users.sessionUser(user.id);
    // Null only when the user was disabled (or deleted) between the two reads.
    if (!snapshot) throw new SsoFailure('account_disabled', 'user is disabled', { userId: user.id, username: user.username, subject });
    return snapshot;
  }

  function enforceMfa(snapshot: SessionUser, userFlag: boolean, identity: OidcIdentity, mfa: boolean): void {
    if (mfa || !mustUseMfa(snapshot.roles, userFlag, settings.mfaRequiredRoles)) return;
    throw new SsoFailure('mfa_required', `no accepted amr/acr (amr: ${identity.amr.join(' ') || 'none'}, acr: ${identity.acr ?? 'none'})`, {
      userId: snapshot.id,
      username: snapshot.username,
      subject: identity.subject,
    });
  }

  async function audited<T>(context: OidcRequestContext, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof SsoFailure)) throw error;
      await trail.record({
        actor: { kind: 'user', id: error.who.userId ?? 'anonymous', name: error.who.username ?? null },
        action: 'auth.sso.failed',
        outcome: error.reason === 'mfa_required' || error.reason === 'account_disabled' ? 'denied' : 'failure',
        ...(error.who.userId ? { target: { kind: 'user', id: error.who.userId } } : {}),
        details: { reason: error.reason, detail: error.detail.slice(0, 300), issuer: settings.issuer, subject: error.who.subject ?? null },
        ...context,
      });
      throw new AppError(PUBLIC_CODE[error.reason], {
        detail: `${error.reason}: ${error.detail}`,
        ...(error.reason === 'provider_unavailable' ? { data: { retryAfterSeconds: 5 } } : {}),
      });
    }
  }

  return {
    transactionTtlMs: OIDC_TRANSACTION_TTL_MS,

    async begin({ returnTo, context }) {
      const target = resolveReturnTo(returnTo);
      await throttleBegin(context);
      const config = await discovery.get();
      const tx: OidcTransaction = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        returnTo: target,
        createdAtMs: clock.now(),
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: settings.redirectUri,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(tx.codeVerifier),
        code_challenge_method: 'S256',
        state: tx.state,
        nonce: tx.nonce,
      });
      const transactionId = await transactions.save(tx);
      return { redirectUrl: url.href, transactionId };
    },

    async complete({ callbackUrl, transactionId, context }) {
      return audited(context, async () => {
        const tx = await takeTransaction(transactionId);
        checkState(tx, callbackUrl);
        let config: client.Configuration;
        try {
          config = await discovery.get();
        } catch (error) {
          throw new SsoFailure('provider_unavailable', error instanceof AppError ? error.code : describeProviderError(error));
        }
        const tokens = await exchangeCode(config, tx, callbackUrl);
        const identity = await readIdentity(config, tokens);
        const mfa = providerDidMfa(identity, { amr: settings.mfaAmr, acr: settings.mfaAcr });
        const user = await provision(identity);
        const groupNames = mapGroups(identity.groupClaims, settings.groupMap);
        await deps.groups.syncOidcMemberships(user.id, groupNames, context);
        const snapshot = await loadSessionUser(user, identity.subject);
        enforceMfa(snapshot, user.mfaRequired, identity, mfa);
        const sid = tokens.claims()?.sid;
        // Recorded before the session exists: a sign-in the trail cannot hold does not happen.
        await trail.record({
          actor: { kind: 'user', id: snapshot.id, name: snapshot.username },
          action: 'auth.sso.succeeded',
          outcome: 'success',
          target: { kind: 'user', id: snapshot.id },
          details: {
            issuer: identity.issuer,
            subject: identity.subject,
            mfa,
            amr: identity.amr,
            acr: identity.acr,
            groups: snapshot.groups.map((g) => g.name),
            roles: snapshot.roles,
          },
          ...context,
        });
        const session = await deps.sessions.create({
          user: snapshot,
          mfa,
          method: 'oidc',
          oidc: { ...(tokens.id_token ? { idTokenHint: tokens.id_token } : {}), ...(typeof sid === 'string' ? { sid } : {}) },
          context,
        });
        return { cookieValue: session.cookieValue, sessionId: session.sessionId, returnTo: tx.returnTo, userId: snapshot.id };
      });
    },

    async endSessionUrl(oidc) {
      let config: client.Configuration;
      try {
        config = await discovery.get();
      } catch {
        // Logout here still happens; the provider's own session outlives it, as when it has no end_session_endpoint.
        return null;
      }
      if (!config.serverMetadata().end_session_endpoint) return null;
      const params: Record<string, string> = { post_logout_redirect_uri: settings.postLogoutRedirectUri };
      if (oidc?.idTokenHint) params.id_token_hint = oidc.idTokenHint;
      return client.buildEndSessionUrl(config, params).href;
    },
  };
}
