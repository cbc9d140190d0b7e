// The MCP server: transport-free tools (names, schemas, policy, audit) that HTTP (/mcp) and the CLI's stdio bridge serve.
export { createMcpTools, type ListedTool, type McpTools, type McpToolsDeps } from './mcp-tools.js';
export { createMcpProtocol, createMcpProtocolServer, SERVER_INSTRUCTIONS } from './protocol.js';
export { createToolPolicy, type ToolPolicy } from './policy.js';
export { TOOL_NAMES, type ToolName } from './tool-names.js';
export { FILE_CHOOSER_DISMISSED, FILE_CHOOSER_DISMISSED_MEANWHILE, UNTRUSTED_PREFACE } from './results.js';
export { MAX_WAIT_SECONDS } from './tools.js';
export type { AgentActionResult, AgentHandle, AgentPage, AgentSnapshot, AgentControls, McpAccess, McpLogger, McpRateLimit, McpSessions, RedactionSource } from './ports.js';
export { toolErrorResult } from './errors.js';
