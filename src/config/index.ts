export { loadConfig, type LoadConfigInput, type LoadedConfig } from './load.js';
export { SETTINGS, LOADER_VARIABLES, type SettingDefinition } from './settings.js';
export type { Config, ForwardAuthRuleConfig } from './config.js';
