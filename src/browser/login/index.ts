export { runLogin, DEFAULT_LOGIN_TIMEOUT_MS } from './run-login.js';
export { importJumpServerAutofill, jumpServerAutofillSchema, type JumpServerImport } from './jumpserver.js';
