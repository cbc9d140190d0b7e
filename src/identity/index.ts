export { createApiTokens, TOKEN_PREFIX, type ApiTokens, type ApiTokensDeps } from './api-tokens.js';
export { ROLES, type Principal, type Role } from './principal.js';
