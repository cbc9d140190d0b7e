import { performance } from 'node:perf_hooks';
import type { BrowserPool } from '../src/browser/index.js';

/** The agent actions whose time inside the browser module is kept. */
export const TAPPED_ACTIONS = ['snapshot', 'click', 'type'] as const;
export type TappedAction = (typeof TAPPED_ACTIONS)[number];

/** Milliseconds each agent action spent inside the browser module (AgentControls), by action. */
export type AgentTaps = Record<TappedAction, number[]>;

/**
 * A measurement tap, not product code: wraps the pool's open() so that each session's agent
 * controls report how long snapshot, click and type took inside the browser module (settle wait,
 * redaction included). Set against the client's time per tool call, the rest is the MCP edge:
 * HTTP, the bearer check, the tool policy, the rate limit, the session lookup, the audit event and
 * the recording's tool event. The product's objects are otherwise untouched.
 */
export function tapAgentControls(pool: BrowserPool): AgentTaps {
  const taps: AgentTaps = { snapshot: [], click: [], type: [] };
  const open = pool.open.bind(pool);
  pool.open = async (spec) => {
    const session = await open(spec);
    const controls = session.agent as unknown as Record<TappedAction, (...args: never[]) => Promise<unknown>>;
    for (const action of TAPPED_ACTIONS) {
      const original = controls[action].bind(controls);
      controls[action] = async (...args: never[]) => {
        const t0 = performance.now();
        try {
          return await original(...args);
        } finally {
          if (taps[action].length < 100_000) taps[action].push(performance.now() - t0);
        }
      };
    }
    return session;
  };
  return taps;
}
