import { MCP_TOOL_NAMES } from '../config/index.js';

/** The tools, by their stable names (the one list lives in config so that the policy setting can be validated at start). */
export const TOOL_NAMES = MCP_TOOL_NAMES;
export type ToolName = (typeof MCP_TOOL_NAMES)[number];
