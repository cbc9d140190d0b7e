export { loadConfig, type LoadConfigInput, type LoadedConfig } from './load.js';
export { SETTINGS, LOADER_VARIABLES, MCP_TOOL_NAMES, type SettingDefinition } from './settings.js';
export type { Config, ForwardAuthRuleConfig, McpToolPolicyConfig } from './config.js';
