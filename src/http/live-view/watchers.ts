import type { LiveMode } from './ports.js';

/** What the controller of a session is told about the people watching it (`{type:'watchers'}`). */
export interface WatchersMessage {
  type: 'watchers';
  /** Watch views of the session (every view of a session is on its holding node, relayed there when it reached another one). */
  count: number;
  /** Their display names, each once, at most MAX_WATCHER_NAMES of them. */
  names: string[];
}

/** One open view of a session, as the roster sees it. */
export interface RosterView {
  mode: LiveMode;
  /** The viewer's display name (the principal's name). */
  name: string;
  send(message: WatchersMessage): void;
}

/**
 * The views of each session on this node, so that whoever controls a session learns when someone
 * watches it: each control view gets `{type:'watchers'}` when it joins and whenever a watch view
 * joins or leaves. Kept by the node holding the session, as the viewer slots: in a cluster every view
 * reaches that node (live-view/relay.ts), so the roster is complete (docs/live-view.md).
 */
export interface WatcherRoster {
  /** Adds a view; returns the function that removes it (safe to call more than once). */
  join(sessionId: string, view: RosterView): () => void;
}

export const MAX_WATCHER_NAMES = 5;
const MAX_NAME_CHARS = 100;

export function createWatcherRoster(): WatcherRoster {
  const bySession = new Map<string, Set<RosterView>>();

  function messageFor(views: Set<RosterView>): WatchersMessage {
    const watching = [...views].filter((view) => view.mode === 'watch');
    const names = [...new Set(watching.map((view) => view.name.slice(0, MAX_NAME_CHARS)))].slice(0, MAX_WATCHER_NAMES);
    return { type: 'watchers', count: watching.length, names };
  }

  function tellControllers(views: Set<RosterView>, only?: RosterView): void {
    const message = messageFor(views);
    for (const view of views) if (view.mode === 'control' && (!only || view === only)) view.send(message);
  }

  return {
    join(sessionId, view) {
      let views = bySession.get(sessionId);
      if (!views) bySession.set(sessionId, (views = new Set()));
      views.add(view);
      // A new controller learns who watches already; a new watcher is announced to every controller.
      tellControllers(views, view.mode === 'control' ? view : undefined);
      let left = false;
      return () => {
        if (left) return;
        left = true;
        views.delete(view);
        if (views.size === 0) bySession.delete(sessionId);
        else if (view.mode === 'watch') tellControllers(views);
      };
    },
  };
}
