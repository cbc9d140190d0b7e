import { createHash } from 'node:crypto';
import type { SharedState } from '../cluster/index.js';
import type { Clock } from '../core/index.js';

export interface BurstRule {
  /** More than this many events within `windowMs` is a burst. */
  threshold: number;
  windowMs: number;
}

/** What one event did to its subject's count. */
export type BurstVerdict =
  | { state: 'quiet'; count: number }
  /** The first event over the threshold in a burst, on whichever node saw it: raise the alert. */
  | { state: 'started'; count: number }
  /** A later event of a burst already alerted: stay silent. */
  | { state: 'ongoing'; count: number };

/** Slots per window: the counted span is between one window and one window plus a slot. */
const SLOTS_PER_WINDOW = 10;

/**
 * Counts events per subject over a sliding window on shared state, and says
 * once per burst that one has started, on every node together.
 *
 * The window slides in slots of a tenth of it: an event adds one to the
 * counter of each slot whose span covers it, so the counter of the current
 * slot holds the events of the last window (and up to one slot more). A
 * burst is therefore never missed at a window boundary, which a single
 * fixed window would allow: five failures at the end of one window and five
 * at the start of the next.
 *
 * A burst lasts while events keep coming over the threshold and ends after
 * one quiet window; only the first event over the threshold raises, and an
 * atomic claim makes that one event on one node.
 */
export function createBurstCounter(deps: { state: SharedState; clock: Clock; rule: BurstRule; namespace: string }) {
  const { state, clock, rule, namespace } = deps;
  if (!Number.isSafeInteger(rule.threshold) || rule.threshold < 1) throw new TypeError('burst rule: threshold must be a positive integer');
  if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < SLOTS_PER_WINDOW) throw new TypeError('burst rule: windowMs is too small');
  const slotMs = Math.ceil(rule.windowMs / SLOTS_PER_WINDOW);

  return {
    async record(subject: string): Promise<BurstVerdict> {
      const key = subjectKey(namespace, subject);
      const now = clock.now();
      const slot = Math.floor(now / slotMs);
      const hits = [];
      for (let s = slot; s <= slot + SLOTS_PER_WINDOW; s += 1) {
        // Each slot's counter lives until its slot ends; the first hit fixes that lifetime.
        hits.push(state.hit(`${key}:n:${s}`, Math.max(1, (s + 1) * slotMs - now), rule.threshold));
      }
      const [current] = await Promise.all(hits);
      const count = current!.count;
      if (count <= rule.threshold) return { state: 'quiet', count };
      const activeKey = `${key}:burst`;
      const active = await state.get(activeKey);
      // Every event over the threshold pushes the end of the burst one window further.
      await state.set(activeKey, { since: (active as { since?: number } | undefined)?.since ?? now }, rule.windowMs);
      if (active !== undefined) return { state: 'ongoing', count };
      // Two nodes can both find no burst record; the claim (one atomic counter) lets one of them raise.
      const claim = await state.hit(`${key}:claim`, slotMs, 1);
      return { state: claim.allowed ? 'started' : 'ongoing', count };
    },
  };
}

// Subjects are typed by clients (an account name): hashed, keys have a fixed length and Redis holds no names.
function subjectKey(namespace: string, subject: string): string {
  return `detect:${namespace}:${createHash('sha256').update(subject, 'utf8').digest('base64url').slice(0, 32)}`;
}
