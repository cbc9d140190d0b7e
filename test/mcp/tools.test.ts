import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import type { Principal } from '../../src/identity/index.js';
import { createMcpTools, createToolPolicy, type AgentHandle } from '../../src/mcp/index.js';

// The tool edge with stand-ins for the sessions module: what leaves when things go wrong.
const SECRET = 'hunter2-Secret-Value-77';
const agent: Principal = { kind: 'agent', id: 'a1', name: 'Agent', roles: ['agent'], groups: [], via: 'api_token', mfa: false, tokenId: 't1', scopes: ['mcp'] };
const SESSION = '11111111-2222-4333-8444-555555555555';

function build(options: { click: () => Promise<never>; audit?: (event: { action: string; details: Record<string, unknown> }) => Promise<void> }) {
  const logged: Array<Record<string, unknown>> = [];
  const recorded: Array<{ details: Record<string, unknown>; outcome: string }> = [];
  const toolEvents: string[] = [];
  const handle = {
    record: { id: SESSION },
    redact: { values: () => [Buffer.from(SECRET)] },
    controls: { click: options.click },
    recordTool: (tool: string, summary: string) => toolEvents.push(`${tool}: ${summary}`),
  } as unknown as AgentHandle;
  const tools = createMcpTools({
    sessions: { start: () => Promise.reject(new Error('unused')), list: async () => [], end: () => Promise.reject(new Error('unused')), agent: async () => handle },
    access: { visibleAssets: async () => [] },
    trail: {
      record: async (event: { action: string; outcome: string; details: Record<string, unknown> }) => {
        await options.audit?.(event);
        recorded.push({ details: event.details, outcome: event.outcome });
      },
    } as never,
    policy: createToolPolicy({}),
    rateLimit: { check: async () => undefined },
    logger: { warn: () => undefined, error: (details) => logged.push(details as Record<string, unknown>) },
  });
  return { tools, logged, recorded, toolEvents };
}

describe('MCP tool errors', () => {
  it('answers an unexpected error as internal, with no stack or raw text, and logs its name and redacted message', async () => {
    const { tools, logged, recorded, toolEvents } = build({ click: () => Promise.reject(new TypeError(`page said ${SECRET} at line 3`)) });
    const result = await tools.call(agent, 'click', { session: SESSION, ref: 'e3' }, {});
    expect(result).toEqual({ content: [{ type: 'text', text: 'error [internal]: An internal error occurred.' }], isError: true });
    expect(logged).toEqual([{ tool: 'click', errorName: 'TypeError', message: 'page said [REDACTED] at line 3' }]);
    // The last record is the outcome (mcp.tool_called); click, which acts, was recorded before it ran too.
    expect(recorded).toHaveLength(2);
    expect(recorded.at(-1)).toMatchObject({ outcome: 'failure', details: { tool: 'click', code: 'internal', session: SESSION } });
    expect(toolEvents).toEqual(['click: click failed: internal']);
  });

  it('passes an AppError as its code and public message, never its private detail', async () => {
    const { tools } = build({ click: () => Promise.reject(new AppError('invalid_request', { publicMessage: 'No element with ref e3 in the latest snapshot; take a new snapshot.', detail: `private ${SECRET}` })) });
    const result = await tools.call(agent, 'click', { session: SESSION, ref: 'e3' }, {});
    expect(JSON.stringify(result)).toBe(JSON.stringify({ content: [{ type: 'text', text: 'error [invalid_request]: No element with ref e3 in the latest snapshot; take a new snapshot.' }], isError: true }));
  });

  it('withholds the answer when the call cannot be audited (fail closed)', async () => {
    const { tools } = build({ click: () => Promise.reject(new AppError('not_found')), audit: () => Promise.reject(new AppError('audit_unavailable')) });
    const result = await tools.call(agent, 'list_sessions', {}, {});
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: 'text', text: `error [audit_unavailable]: ${new AppError('audit_unavailable').publicMessage}` }]);
  });

  it('refuses an unknown tool by name, audited', async () => {
    const { tools, recorded } = build({ click: () => Promise.reject(new Error('unused')) });
    const result = await tools.call(agent, 'evaluate', { script: 'x' }, {});
    expect(result.content).toEqual([{ type: 'text', text: 'error [invalid_request]: There is no tool evaluate; call tools/list.' }]);
    expect(recorded[0]).toMatchObject({ outcome: 'failure', details: { tool: 'evaluate', args: null, code: 'invalid_request' } });
  });
});
