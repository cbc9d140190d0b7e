/**
 * Viewers per session on this node. Each viewer has its own screencast in
 * the browser (CDP session, JPEG encoding), so an owner opening hundreds of
 * sockets to one session would cost the whole node; past the limit a new
 * viewer is refused. Counted only after attach succeeds, so callers who may
 * not see a session cannot take its places.
 */
export interface ViewerSlots {
  /** False when the session has `limit` viewers already. */
  take(sessionId: string): boolean;
  release(sessionId: string): void;
}

export const MAX_VIEWERS_PER_SESSION = 8;

export function createViewerSlots(limit = MAX_VIEWERS_PER_SESSION): ViewerSlots {
  const counts = new Map<string, number>();
  return {
    take(sessionId) {
      const count = counts.get(sessionId) ?? 0;
      if (count >= limit) return false;
      counts.set(sessionId, count + 1);
      return true;
    },
    release(sessionId) {
      const count = (counts.get(sessionId) ?? 0) - 1;
      if (count > 0) counts.set(sessionId, count);
      else counts.delete(sessionId);
    },
  };
}
