// The vault: portal credentials sealed with envelope encryption, written by administrators, read only by the browser module.
export { openVault, DEFAULT_MAX_AGE_DAYS, MAX_AGE_DAYS_LIMIT, type ReferenceMetadata, type RotateOptions, type Vault, type VaultDeps } from './vault.js';
export { createInfisicalSource, type InfisicalReference, type InfisicalSettings, type InfisicalSource } from './infisical.js';
export { ENTRY_ID, FIELD_NAME, MAX_FIELDS, MAX_VALUE_BYTES, WELL_KNOWN_FIELDS } from './fields.js';
export { KEY_BYTES, kekIdOf } from './envelope.js';
export type {
  EntryMetadata,
  ReadInput,
  RotationProgress,
  RotationResult,
  SecretFields,
  SecretSource,
  SetInput,
  StaleAlertSink,
  VaultContext,
  VaultReader,
  VersionMetadata,
} from './types.js';
