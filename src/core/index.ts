export { AppError, isAppError, type AppErrorOptions } from './errors.js';
export { ERROR_CODES, type ErrorCode } from './error-codes.js';
export { systemClock, type Clock } from './clock.js';
export { randomIds, type IdGenerator } from './ids.js';
export { canonicalJson } from './canonical-json.js';
export { createRedactor, isSecretFieldName, REDACTED, MIN_SECRET_LENGTH, type Redactor } from './redactor.js';
export { loadOrCreateKeyFile } from './key-file.js';
export { isExecutableFile } from './executable.js';
export { createLogger } from './logger.js';
export { compileHostPattern, hostMatches, isHostPattern, normalizeHost, type HostPattern } from './host-pattern.js';
export { TOTP_DIGITS, TOTP_STEP_SECONDS, base32Decode, base32Encode, hotp, totp, totpStep } from './totp.js';
export {
  compileUrlPattern,
  loginRecipeSchema,
  MAX_RECIPE_DEPTH,
  MAX_RECIPE_STEPS,
  pageCheckSchema,
  parseTemplate,
  recipeStepSchema,
  templateIsSecret,
  type LoginRecipe,
  type PageCheck,
  type RecipeStep,
  type TemplatePart,
} from './login-recipe.js';
export { importJumpServerAutofill, jumpServerAutofillSchema, type JumpServerImport } from './jumpserver-autofill.js';
export { MAX_SESSION_DURATION_MINUTES } from './session-limits.js';
