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
  /** Worlds by frame id and document (loader id): a navigation makes a new document, and its world is made anew. */
  const worlds = new Map<string, { key: string; cdp: CDPSession; id: Promise<number> }>();

  const world = (cdp: CDPSession, frame: FrameRef, fresh: boolean): Promise<number> => {
    const key = `${frame.id}:${frame.loaderId}`;
    const cached = worlds.get(frame.id);
    if (cached && cached.cdp === cdp && cached.key === key && !fresh) return cached.id;
    const id = cdp.send('Page.createIsolatedWorld', { frameId: frame.id, worldName: WORLD, grantUniveralAccess: false }).then((r) => r.executionContextId);
    worlds.set(frame.id, { key, cdp, id });
    id.catch(() => {
      if (worlds.get(frame.id)?.id === id) worlds.delete(frame.id);
    });
    return id;
  };

  /** Evaluates `expression` in the frame's isolated world; undefined when the frame went away. */
  const evaluate = async <T>(frame: FrameRef, expression: string, awaitPromise = false): Promise<T | undefined> => {
    const cdp = deps.cdp();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const contextId = await world(cdp, frame, attempt > 0);
        const result = await cdp.send('Runtime.evaluate', { expression, contextId, returnByValue: true, awaitPromise });
        return result.exceptionDetails ? undefined : (result.result.value as T);
      } catch {
        // The document changed (its world went with it): once more with a new world.
      }
    }
    return undefined;
  };

  const frameTree = async () => {
    try {
      return (await deps.cdp().send('Page.getFrameTree')).frameTree;
    } catch {
      return undefined;
    }
  };
  const mainFrame = async (): Promise<FrameRef | undefined> => {
    const tree = await frameTree();
    return tree ? { id: tree.frame.id, loaderId: tree.frame.loaderId } : undefined;
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
      const tree = await frameTree();
      if (tree) {
        type Tree = typeof tree;
        const frames: FrameRef[] = [];
        const walk = (t: Tree) => {
          frames.push({ id: t.frame.id, loaderId: t.frame.loaderId });
          for (const child of t.childFrames ?? []) walk(child);
        };
        walk(tree);
        const read = await Promise.all(frames.map((frame) => evaluate<{ url: string; values: string[] }>(frame, READ_PASSWORDS)));
        for (const r of read) {
          if (!r) continue;
          seen.add(r.url);
          for (const v of r.values) if (typeof v === 'string' && v) values.add(v);
        }
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
    async watchMutations(): Promise<{ readonly active: boolean; read(): Promise<{ count: number; idleMs: number } | undefined>; stop(): Promise<void> }> {
      const frame = await mainFrame();
      const token = JSON.stringify(`w${Math.random().toString(36).slice(2)}`);
      const started = frame ? await evaluate<boolean>(frame, `(${WATCH_FN})(${token})`) : undefined;
      return {
        active: Boolean(frame && started),
        read: async () => (frame && started ? ((await evaluate<{ count: number; idleMs: number } | null>(frame, `(${READ_FN})(${token})`)) ?? undefined) : undefined),
        stop: async () => {
          if (frame && started) await evaluate(frame, `(${STOP_FN})(${token})`);
        },
      };
    },
    /** Makes the main frame's world of a new document ahead of the next call (it is one round trip less then). */
    warm(): void {
      void mainFrame().then((frame) => (frame ? world(deps.cdp(), frame, false).catch(() => undefined) : undefined));
    },
  };
}

export type PageReader = ReturnType<typeof createPageReader>;

interface FrameRef {
  id: string;
  loaderId: string;
}

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
