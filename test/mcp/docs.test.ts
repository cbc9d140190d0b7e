import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMcpTools, createToolPolicy, TOOL_NAMES } from '../../src/mcp/index.js';
import type { Principal } from '../../src/identity/index.js';

// The tools are a registry like the error codes and audit actions: docs/mcp.md lists each, in order, with every argument.
const doc = readFileSync(join(import.meta.dirname, '../../docs/mcp.md'), 'utf8');

function toolRows(): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Tools');
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (line.startsWith('| `')) rows.push(line.split(/(?<!\\)\|/).map((c) => c.trim()).slice(1, -1));
  }
  return rows;
}

describe('docs/mcp.md', () => {
  const tools = createMcpTools({
    sessions: { start: () => Promise.reject(new Error('unused')), list: async () => [], end: () => Promise.reject(new Error('unused')), agent: () => Promise.reject(new Error('unused')) },
    access: { visibleAssets: async () => [] },
    trail: { record: async () => undefined } as never,
    policy: createToolPolicy({}),
    rateLimit: { check: async () => undefined },
    logger: { warn: () => undefined, error: () => undefined },
  });
  const agent: Principal = { kind: 'agent', id: 'a', name: 'a', roles: ['agent'], groups: [], via: 'api_token', mfa: false, scopes: ['mcp'] };

  it('lists every tool, in the order tools/list gives them, with each of its arguments', () => {
    const rows = toolRows();
    expect(rows.map((r) => /`(\w+)`/.exec(r[0]!)![1])).toEqual([...TOOL_NAMES]);
    for (const listed of tools.list(agent)) {
      const row = rows.find((r) => r[0] === `\`${listed.name}\``)!;
      const properties = Object.keys((listed.inputSchema.properties ?? {}));
      for (const name of properties) expect(row[1], `${listed.name}.${name}`).toContain(`\`${name}\``);
      if (properties.length === 0) expect(row[1]).toBe('none');
    }
  });
});
