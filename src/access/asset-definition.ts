import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError, canonicalJson, MAX_SESSION_DURATION_MINUTES, compileHostPattern, hostMatches, isHostPattern, loginRecipeSchema, pageCheckSchema, type LoginRecipe, type PageCheck, type RecipeStep } from '../core/index.js';

/**
 * The part of an asset that says how a governed browser session runs: where
 * it starts, which vault entry logs it in and how, how to tell success from
 * failure, and the session policy. Kept in the `assets.definition` JSON
 * column; a credential is named by its vault entry id, never held here.
 */
export interface SessionPolicy {
  idleTimeoutMinutes: number;
  maxDurationMinutes: number;
  downloads: 'block' | 'allow';
  uploads: 'block' | 'allow';
  clipboardCopy: 'allow' | 'deny';
  clipboardPaste: 'allow' | 'deny';
  /** Live sessions of the asset at once; null: unlimited. */
  maxSessions: number | null;
  /** Live sessions using the asset's credential at once (many portals lock a shared account used twice). */
  maxSessionsPerCredential: number;
  /** `required`: no session runs unrecorded (a start is refused, a running session ends, when the recording cannot be written); `best_effort`: it goes on, the failure audited. */
  recording: 'required' | 'best_effort';
  /** Typed text in recordings: `masked` counts keys only; `plain` keeps the text of fields that are not password fields. */
  recordKeystrokes: 'masked' | 'plain';
  /** Days a session recording is kept before the retention job deletes it (a legal hold keeps it longer). */
  recordingRetentionDays: number;
}

export const DEFAULT_SESSION_POLICY: Readonly<SessionPolicy> = Object.freeze({
  idleTimeoutMinutes: 15,
  maxDurationMinutes: 480,
  downloads: 'block',
  uploads: 'block',
  clipboardCopy: 'deny',
  clipboardPaste: 'deny',
  maxSessions: null,
  maxSessionsPerCredential: 1,
  recording: 'required',
  recordKeystrokes: 'masked',
  recordingRetentionDays: 365,
});

/** The definition as stored and shown, defaults filled in (`startUrl` null: the asset's URL). */
export interface AssetDefinition {
  startUrl: string | null;
  /** Vault entry id; null: the session opens without logging in. */
  credential: string | null;
  /** Null: the automatic recipe (visible password field, its form's user name field and submit control). */
  loginRecipe: LoginRecipe | null;
  successCheck: PageCheck | null;
  failureCheck: PageCheck | null;
  /** Plain-HTTP pages may be logged into (never by default). */
  allowInsecureHttp: boolean;
  policy: SessionPolicy;
}

export const DEFAULT_DEFINITION: Readonly<AssetDefinition> = Object.freeze({
  startUrl: null,
  credential: null,
  loginRecipe: null,
  successCheck: null,
  failureCheck: null,
  allowInsecureHttp: false,
  policy: DEFAULT_SESSION_POLICY,
});

const NO_CONTROL = /^[^\p{Cc}]*$/u;
/** Same shape as a vault entry id (access does not import the vault). */
const ENTRY_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export const httpUrlSchema = z
  .string()
  .max(2048)
  .regex(NO_CONTROL, 'no control characters')
  .refine((v) => {
    try {
      const u = new URL(v);
      // Credentials in a catalog URL would be shown to everyone who reads the catalog.
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '' && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'an http(s) URL without user name or password');

const minutes = (max: number) => z.number().int().min(1).max(max);
const limit = z.number().int().min(1).max(1000);

/** A policy as given: any subset, merged over the current one (or the defaults). */
export const sessionPolicyInputSchema = z.strictObject({
  idleTimeoutMinutes: minutes(24 * 60).optional(),
  maxDurationMinutes: minutes(MAX_SESSION_DURATION_MINUTES).optional(),
  downloads: z.enum(['block', 'allow']).optional(),
  uploads: z.enum(['block', 'allow']).optional(),
  clipboardCopy: z.enum(['allow', 'deny']).optional(),
  clipboardPaste: z.enum(['allow', 'deny']).optional(),
  maxSessions: limit.nullable().optional(),
  maxSessionsPerCredential: limit.optional(),
  recording: z.enum(['required', 'best_effort']).optional(),
  recordKeystrokes: z.enum(['masked', 'plain']).optional(),
  recordingRetentionDays: z.number().int().min(1).max(36_500).optional(),
});
export type SessionPolicyInput = z.infer<typeof sessionPolicyInputSchema>;

/** The definition fields an asset input (admin API, import file) may carry; null resets a field to its default. */
export const definitionInputFields = {
  startUrl: httpUrlSchema.nullable().optional(),
  credential: z.string().regex(ENTRY_ID, 'a vault entry id').nullable().optional(),
  loginRecipe: loginRecipeSchema.nullable().optional(),
  successCheck: pageCheckSchema.nullable().optional(),
  failureCheck: pageCheckSchema.nullable().optional(),
  allowInsecureHttp: z.boolean().optional(),
  policy: sessionPolicyInputSchema.optional(),
};
export interface DefinitionInput {
  startUrl?: string | null | undefined;
  credential?: string | null | undefined;
  loginRecipe?: LoginRecipe | null | undefined;
  successCheck?: PageCheck | null | undefined;
  failureCheck?: PageCheck | null | undefined;
  allowInsecureHttp?: boolean | undefined;
  policy?: SessionPolicyInput | undefined;
}
export const DEFINITION_KEYS = Object.keys(definitionInputFields) as Array<keyof DefinitionInput>;

/** Applies `input` over `current`: absent fields stay, null resets, the policy merges field by field. */
export function mergeDefinition(current: AssetDefinition, input: DefinitionInput): AssetDefinition {
  const pick = <K extends keyof DefinitionInput & keyof AssetDefinition>(key: K): AssetDefinition[K] => {
    const value = input[key];
    if (value === undefined) return current[key];
    return (value === null ? DEFAULT_DEFINITION[key] : value) as AssetDefinition[K];
  };
  const policy = { ...current.policy };
  for (const [key, value] of Object.entries(input.policy ?? {})) if (value !== undefined) (policy as Record<string, unknown>)[key] = value;
  return {
    startUrl: pick('startUrl'),
    credential: pick('credential'),
    loginRecipe: pick('loginRecipe'),
    successCheck: pick('successCheck'),
    failureCheck: pick('failureCheck'),
    allowInsecureHttp: input.allowInsecureHttp ?? current.allowInsecureHttp,
    policy,
  };
}

/**
 * The start URL and every absolute `goto` of the recipe must be on an allowed
 * host: a session that the navigation guard stops on its first page is a
 * broken asset, found here instead of at the first login.
 */
export function checkDefinitionHosts(definition: AssetDefinition, allowedHosts: readonly string[]): void {
  const allowed = hostsAllowedBy(allowedHosts);
  const problems: Array<{ field: string; problem: string }> = [];
  if (definition.startUrl !== null && !allowed(definition.startUrl)) problems.push({ field: 'startUrl', problem: 'its host must be one of allowedHosts' });
  if (!recipeStaysOn(definition.loginRecipe, allowed)) problems.push(RECIPE_OFF_HOSTS);
  if (problems.length > 0) throw new AppError('invalid_request', { publicMessage: 'The request is invalid; see details.', data: problems });
}

/** The same rule for an unsaved recipe ("Test login now"): refused before it runs, as a save would be. */
export function checkRecipeHosts(recipe: LoginRecipe | null, allowedHosts: readonly string[]): void {
  if (!recipeStaysOn(recipe, hostsAllowedBy(allowedHosts))) throw new AppError('invalid_request', { publicMessage: 'The request is invalid; see details.', data: [RECIPE_OFF_HOSTS] });
}

const RECIPE_OFF_HOSTS = { field: 'loginRecipe', problem: 'every absolute goto URL must be on one of allowedHosts' };

function hostsAllowedBy(allowedHosts: readonly string[]): (url: string) => boolean {
  const patterns = allowedHosts.filter(isHostPattern).map(compileHostPattern);
  return (url) => patterns.some((p) => hostMatches(p, new URL(url).hostname.toLowerCase()));
}

function recipeStaysOn(recipe: LoginRecipe | null, allowed: (url: string) => boolean): boolean {
  return gotoTargets(recipe?.steps ?? []).every((target) => !/^https?:\/\//i.test(target) || allowed(target));
}

function gotoTargets(steps: readonly RecipeStep[]): string[] {
  return steps.flatMap((step) => ('goto' in step ? [step.goto] : 'steps' in step ? gotoTargets(step.steps) : []));
}

/**
 * Reads the stored JSON field by field. A field that does not parse (written
 * by hand into the database) falls back to its default, which is the
 * restrictive choice for every policy field.
 */
export function readDefinition(stored: Record<string, unknown>): AssetDefinition {
  const field = <T>(schema: z.ZodType<T>, key: string, fallback: T): T => {
    const parsed = schema.safeParse(stored[key]);
    return parsed.success && parsed.data !== undefined ? parsed.data : fallback;
  };
  const policyInput = field(sessionPolicyInputSchema, 'policy', {});
  return mergeDefinition(DEFAULT_DEFINITION, {
    startUrl: field(httpUrlSchema.nullable(), 'startUrl', null),
    credential: field(definitionInputFields.credential, 'credential', null),
    loginRecipe: field<LoginRecipe | null>(loginRecipeSchema.nullable(), 'loginRecipe', null),
    successCheck: field<PageCheck | null>(pageCheckSchema.nullable(), 'successCheck', null),
    failureCheck: field<PageCheck | null>(pageCheckSchema.nullable(), 'failureCheck', null),
    allowInsecureHttp: field(z.boolean(), 'allowInsecureHttp', false),
    policy: policyInput,
  });
}

/** The stored form: the whole definition, so a later change of a default does not change existing assets. */
export function storedDefinition(definition: AssetDefinition, mfaRequired: boolean): Record<string, unknown> {
  return { mfaRequired, ...definition, policy: { ...definition.policy } };
}

const AUDIT_VIEW_MAX = 12 * 1024;

/**
 * A definition as audit records show it. The credential is shown as
 * `vaultEntry` (and the policy's `maxSessionsPerCredential` as
 * `maxSessionsPerVaultEntry`): the redactor blanks every field whose name
 * says credential, and which entry an asset uses is evidence (an id, not a secret). A very large
 * recipe or check is shown by digest, so before and after fit one event.
 */
export function definitionAuditView(definition: AssetDefinition): Record<string, unknown> {
  const { credential, policy, ...rest } = definition;
  const { maxSessionsPerCredential, ...limits } = policy;
  const view: Record<string, unknown> = { ...rest, policy: { ...limits, maxSessionsPerVaultEntry: maxSessionsPerCredential }, vaultEntry: credential };
  if (Buffer.byteLength(JSON.stringify(view)) <= AUDIT_VIEW_MAX) return view;
  for (const key of ['loginRecipe', 'successCheck', 'failureCheck'] as const) {
    const value = definition[key];
    if (value !== null) view[key] = { sha256: createHash('sha256').update(JSON.stringify(value)).digest('hex'), bytes: Buffer.byteLength(JSON.stringify(value)) };
  }
  return view;
}

export function sameDefinition(a: AssetDefinition, b: AssetDefinition): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
