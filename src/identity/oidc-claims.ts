/** Claim value → our group names. Null: claim values are taken 1:1 as our group names. */
export type OidcGroupMap = ReadonlyMap<string, readonly string[]> | null;

/** What we take from a provider's ID token (and UserInfo). */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  username: string;
  email: string | null;
  name: string;
  /** Raw values of the groups claim (strings only, bounded). */
  groupClaims: string[];
  amr: string[];
  acr: string | null;
}

const GROUP_CLAIMS_MAX = 1000;
const CLAIM_TEXT_MAX = 255;

/**
 * Parses `claimValue=ourGroup` pairs (OIDC_GROUP_MAP). One claim value may
 * map to several of our groups. Null when no pairs are configured.
 */
export function parseGroupMap(pairs: readonly string[]): OidcGroupMap {
  if (pairs.length === 0) return null;
  const map = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) throw new TypeError(`OIDC_GROUP_MAP: expected claimValue=groupName, got an entry without both sides`);
    const from = pair.slice(0, eq).trim();
    const to = pair.slice(eq + 1).trim();
    map.set(from, [...(map.get(from) ?? []), to]);
  }
  return map;
}

/** Our group names for the claim values: mapped ones only when a map is set (unmapped values are ignored), else 1:1. */
export function mapGroups(claims: readonly string[], map: OidcGroupMap): string[] {
  if (!map) return [...new Set(claims)];
  return [...new Set(claims.flatMap((value) => map.get(value) ?? []))];
}

/** Did the provider say a second factor was used? `amr` intersects the accepted methods, or `acr` is an accepted level. */
export function providerDidMfa(identity: Pick<OidcIdentity, 'amr' | 'acr'>, accepted: { amr: readonly string[]; acr: readonly string[] }): boolean {
  if (identity.amr.some((method) => accepted.amr.includes(method))) return true;
  return identity.acr !== null && accepted.acr.includes(identity.acr);
}

/**
 * The identity in validated ID token claims (plus UserInfo claims, when
 * fetched). Claims are provider input: wrong types are dropped, texts bounded.
 * Null when `sub` is missing.
 */
export function identityFromClaims(claims: Record<string, unknown>, groupsClaim: string, issuer: string): OidcIdentity | null {
  const subject = text(claims.sub);
  if (!subject) return null;
  const email = text(claims.email);
  const username = text(claims.preferred_username) ?? email ?? subject;
  const raw = claims[groupsClaim];
  const groupClaims = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [])
    .filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= CLAIM_TEXT_MAX)
    .slice(0, GROUP_CLAIMS_MAX);
  const amrRaw = claims.amr;
  const amr = Array.isArray(amrRaw) ? amrRaw.filter((v): v is string => typeof v === 'string').slice(0, 20) : [];
  return {
    issuer,
    subject,
    username,
    email: email ?? null,
    name: text(claims.name) ?? username,
    groupClaims,
    amr,
    acr: text(claims.acr) ?? null,
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= CLAIM_TEXT_MAX ? value : undefined;
}
