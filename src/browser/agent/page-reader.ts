import type { CDPSession, Page } from 'playwright-core';

const WORLD = 'webasset-agent';
/** At most this many password fields are read per frame (a page cannot make a snapshot slow with thousands). */
const MAX_FIELDS = 50;

/**
 * Reads the page in an isolated world of the tab (page scripts cannot change what it sees): the
 * current values of password fields, for redaction, and a DOM-quiet wait, for settling. Worlds are
 * kept per frame and document and made again when a navigation took them away.
 */
export function createPageReader(deps: { cdp: () => CDPSession; page: () => Page }) {
  const worlds = new Map<string, { cdp: CDPSession; id: Promise<number> }>();

  const world = (cdp: CDPSession, frameId: string, fresh: boolean): Promise<number> => {
    const cached = worlds.get(frameId);
    if (cached && cached.cdp === cdp && !fresh) return cached.id;
    const id = cdp.send('Page.createIsolatedWorld', { frameId, worldName: WORLD, grantUniveralAccess: false }).then((r) => r.executionContextId);
    worlds.set(frameId, { cdp, id });
    id.catch(() => {
      if (worlds.get(frameId)?.id === id) worlds.delete(frameId);
    });
    return id;
  };

  /** Evaluates `expression` in the frame's isolated world; undefined when the frame went away. */
  const evaluate = async <T>(frameId: string, expression: string, awaitPromise = false): Promise<T | undefined> => {
    const cdp = deps.cdp();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const contextId = await world(cdp, frameId, attempt > 0);
        const result = await cdp.send('Runtime.evaluate', { expression, contextId, returnByValue: true, awaitPromise });
        return result.exceptionDetails ? undefined : (result.result.value as T);
      } catch {
        // The document changed (its world went with it): once more with a new world.
      }
    }
    return undefined;
  };

  const mainFrameId = async (): Promise<string | undefined> => {
    try {
      const { frameTree } = await deps.cdp().send('Page.getFrameTree');
      return frameTree.frame.id;
    } catch {
      return undefined;
    }
  };

  return {
    /**
     * Every password field's current value in every frame of the tab. Frames of another process
     * (cross-site iframes) are not in the tab's frame tree: those are read through Playwright,
     * in the page's own world.
     */
    async passwordValues(): Promise<string[]> {
      const values = new Set<string>();
      const seen = new Set<string>();
      try {
        const { frameTree } = await deps.cdp().send('Page.getFrameTree');
        type Tree = typeof frameTree;
        const ids: string[] = [];
        const walk = (tree: Tree) => {
          ids.push(tree.frame.id);
          for (const child of tree.childFrames ?? []) walk(child);
        };
        walk(frameTree);
        const read = await Promise.all(ids.map((id) => evaluate<{ url: string; values: string[] }>(id, READ_PASSWORDS)));
        for (const r of read) {
          if (!r) continue;
          seen.add(r.url);
          for (const v of r.values) if (typeof v === 'string' && v) values.add(v);
        }
      } catch {
        // The tab is closing: whatever was read.
      }
      const page = deps.page();
      const others = page.frames().filter((frame) => !seen.has(frame.url()));
      await Promise.all(
        others.map(async (frame) => {
          const read = await frame
            .evaluate(`(${READ_PASSWORDS_FN})(${MAX_FIELDS})`)
            .then((r) => r as { values: string[] })
            .catch(() => undefined);
          for (const v of read?.values ?? []) if (typeof v === 'string' && v) values.add(v);
        }),
      );
      return [...values];
    },
    /**
     * Starts counting DOM changes in the main frame. `read()` gives how many came and how long ago
     * the last one came (undefined once the document is gone: a navigation); `stop()` ends it.
     */
    async watchMutations(): Promise<{ read(): Promise<{ count: number; idleMs: number } | undefined>; stop(): Promise<void> }> {
      const frameId = await mainFrameId();
      const token = JSON.stringify(`w${Math.random().toString(36).slice(2)}`);
      const started = frameId ? await evaluate<boolean>(frameId, `(${WATCH_FN})(${token})`) : undefined;
      return {
        read: async () => (frameId && started ? evaluate<{ count: number; idleMs: number }>(frameId, `(${READ_FN})(${token})`) : undefined),
        stop: async () => {
          if (frameId && started) await evaluate(frameId, `(${STOP_FN})(${token})`);
        },
      };
    },
  };
}

export type PageReader = ReturnType<typeof createPageReader>;

// Page-side functions: plain text, not compiled by tsc (the project has no DOM library).
const READ_PASSWORDS_FN = `function (max) {
  var out = [];
  var visit = function (root) {
    var list = root.querySelectorAll('input');
    for (var i = 0; i < list.length && out.length < max; i++) {
      var el = list[i];
      var ac = String(el.getAttribute('autocomplete') || '');
      if (String(el.type).toLowerCase() === 'password' || /password|one-time-code/i.test(ac)) out.push(String(el.value || ''));
    }
    var all = root.querySelectorAll('*');
    for (var j = 0; j < all.length && out.length < max; j++) if (all[j].shadowRoot) visit(all[j].shadowRoot);
  };
  visit(document);
  return { url: location.href, values: out };
}`;
const READ_PASSWORDS = `(${READ_PASSWORDS_FN})(${MAX_FIELDS})`;

const WATCH_FN = `function (token) {
  var state = { count: 0, last: performance.now() };
  var observer = new MutationObserver(function (records) { state.count += records.length; state.last = performance.now(); });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  state.observer = observer;
  window.__webassetAgent = window.__webassetAgent || {};
  window.__webassetAgent[token] = state;
  return true;
}`;

const READ_FN = `function (token) {
  var state = (window.__webassetAgent || {})[token];
  return state ? { count: state.count, idleMs: performance.now() - state.last } : null;
}`;

const STOP_FN = `function (token) {
  var all = window.__webassetAgent || {};
  if (all[token]) { all[token].observer.disconnect(); delete all[token]; }
  return true;
}`;
