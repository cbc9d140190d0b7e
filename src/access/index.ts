export { createAccess, type Access, type AccessDeps, type AssetContext, type AssetSummary, type RequestContext } from './authorize.js';
export { ASSET_ACTIONS, PERMISSIONS, ROLE_PERMISSIONS, isAssetAction, scopesCovering, type AssetAction, type Permission } from './permissions.js';
export { decide, PROXY_PASS, type AssetPolicy, type Decision, type DecisionInput, type DenialReason, type Grant } from './decide.js';
export { isWithinWindow, isTimeZone, timeWindowSchema, wallClock, type TimeWindow } from './time-window.js';
export { assetIdSchema, assetInputSchema, assetPatchSchema, createAssets, ASSET_ID, type AssetInput, type AssetPatch, type AssetRecord, type Assets } from './assets.js';
export { checkRecipeHosts, DEFAULT_SESSION_POLICY, type AssetDefinition, type SessionPolicy, type SessionPolicyInput } from './asset-definition.js';
export { formatChange, importPolicy, parsePolicy, policySchema, POLICY_MAX_BYTES, type ImportResult, type PolicyChange, type PolicyFile } from './import-policy.js';
export { createGrants, grantInputSchema, grantPatchSchema, type GrantInput, type GrantPatch, type GrantRecord, type Grants } from './grants.js';
export {
  createForwardAuthGate,
  createForwardAuthRules,
  type ForwardAuthDecision,
  type ForwardAuthGate,
  type ForwardAuthRule,
  type ForwardAuthRules,
} from './forward-auth-rules.js';
export { createReturnUrlPolicy, RETURN_URL_MAX_LENGTH, type ReturnUrlPolicy } from './return-urls.js';
export { createReplayAccess, type ReplayAccess, type ReplayAccessDeps, type ReplayScope } from './replay-access.js';
