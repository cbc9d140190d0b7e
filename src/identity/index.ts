export {
  createApiTokens,
  DEFAULT_EXPIRY_DAYS,
  LAST_USED_RESOLUTION_MS,
  MAX_EXPIRY_DAYS,
  TOKEN_PREFIX,
  type ApiTokens,
  type ApiTokensDeps,
  type CreateTokenInput,
  type TokenChangeContext,
  type TokenInfo,
  type TokenUsersPort,
} from './api-tokens.js';
export { ROLE_TOKEN_DEFAULT_SCOPES, TOKEN_SCOPES, TOKEN_SCOPE_NAMES, isTokenScope, type TokenScope } from './token-scopes.js';
export { ROLES, type GroupRef, type Principal, type Role } from './principal.js';
export { createAccessRevocations, type AccessRevocations, type AccessRevoked, type AccessRevokedListener, type AccessRevokedPort } from './access-revocations.js';
export {
  ARGON2ID_MINIMUM,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  createPasswordHasher,
  createPasswordPolicy,
  normalizePassword,
  type Argon2Params,
  type PasswordContext,
  type PasswordHasher,
  type PasswordPolicy,
  type PasswordProblem,
  type PasswordProblemCode,
} from './passwords.js';
export {
  RECOVERY_CODE_LENGTH,
  TOTP_DIGITS,
  TOTP_SECRET_BYTES,
  TOTP_STEP_SECONDS,
  base32Decode,
  base32Encode,
  checkTotpOnce,
  createInMemoryTotpReplayGuard,
  generateRecoveryCodes,
  generateTotpSecret,
  hashRecoveryCode,
  hotp,
  matchRecoveryCode,
  normalizeRecoveryCode,
  otpauthUri,
  qrCodeDataUrl,
  qrCodeSvg,
  totp,
  totpStep,
  verifyTotp,
  type TotpReplayGuard,
  type VerifyTotpOptions,
} from './totp.js';
export { createAuthThrottle, AUTH_FAILURE_RULE, REPEATED_FAILURE_WINDOW_MS, type AuthThrottle } from './auth-throttle.js';
export {
  createGroups,
  groupDescriptionSchema,
  groupNameSchema,
  rolesSchema,
  sortRoles,
  GROUP_NAME,
  type GroupRecord,
  type Groups,
  type GroupsDeps,
  type MemberRecord,
  type MembershipEffects,
  type MembershipSource,
  type UserGroupRecord,
} from './groups.js';
export {
  createUsers,
  hashEnrolmentToken,
  normalizeUsername,
  newUserRow,
  ENROLMENT_TTL_MS,
  SERVICE_ACCOUNT_ROLES,
  assertServiceAccountRoles,
  forbiddenServiceAccountRoles,
  type NewUser,
  type CreateUserInput,
  type UpdateUserPatch,
  type UserChangeContext,
  type UserRecord,
  type UserSessionsPort,
  type UserSnapshot,
  type Users,
  type UsersDeps,
} from './users.js';
export type { SessionRecord, SessionStore, SessionUser } from './session-store.js';
export { createDatabaseSessionStore } from './session-store-database.js';
export {
  createWebSessions,
  SESSION_VALUE_PREFIX,
  type ResolvedSession,
  type SessionContext,
  type SessionEndReason,
  type SessionSummary,
  type WebSessions,
  type WebSessionsDeps,
} from './web-sessions.js';
export {
  createOidcSignIn,
  OIDC_TRANSACTION_TTL_MS,
  type OidcGroupsPort,
  type OidcRequestContext,
  type OidcSessionsPort,
  type OidcSettings,
  type OidcSignIn,
  type OidcSignInDeps,
  type OidcUsersPort,
  type SsoFailureReason,
} from './oidc.js';
export { parseGroupMap, type OidcGroupMap } from './oidc-claims.js';
export { checkReturnTo } from './oidc-return-to.js';
export { createIdentityKey, type IdentityKey } from './identity-key.js';
export { createLockout, type Lockout, type LockoutOptions, type Reservation } from './lockout.js';
export {
  ALWAYS_MFA_ROLES,
  RECOVERY_CODE_COUNT,
  createDatabaseTotpReplayGuard,
  createMfa,
  mustUseMfa,
  type Mfa,
  type MfaDeps,
  type SecondFactorResult,
  type TotpEnrolmentStart,
} from './mfa.js';
export { createEnrolment, type Enrolment, type EnrolmentDeps, type EnrolmentState } from './enrolment.js';
export {
  createLocalSignIn,
  PRE_AUTH_MAX_ATTEMPTS,
  PRE_AUTH_TTL_MS,
  SIGNIN_IP_WINDOW_MS,
  type LocalSignIn,
  type LocalSignInDeps,
  type PasswordStepResult,
  type SignedIn,
  type SignInContext,
  type SignInFailureSink,
  type SignInSessionsPort,
} from './local-sign-in.js';
export { createSharedStateSessionStore } from './session-store-shared.js';
export { createCachedSessionStore, SESSION_INVALIDATION_CHANNEL, type CachedSessionStoreOptions } from './session-store-cached.js';
