import type { Principal } from '../identity/index.js';
import { AppError, systemClock, type Clock } from '../core/index.js';
import type { Access, RequestContext } from './authorize.js';
import { decide } from './decide.js';

/** The assets whose recordings a caller may replay: every recording, or those of a non-empty list of assets. */
export type ReplayScope = { all: true } | { all: false; assetIds: readonly string[] };

export interface ReplayAccess<R extends { assetId: string }> {
  /**
   * What `principal` may replay. Someone who may replay nothing at all is
   * refused with `forbidden` (recorded as `auth.denied`), not answered an
   * empty list: an empty list would hide a missing grant.
   */
  scope(principal: Principal, context?: RequestContext): Promise<ReplayScope>;
  /**
   * The recording, when `principal` may replay it. An unknown, deleted or
   * forbidden id is `not_found` alike, so a guessed id tells nothing; the
   * refusal itself is still recorded (`auth.denied`).
   */
  recording(principal: Principal, id: string, context?: RequestContext): Promise<R>;
}

export interface ReplayAccessDeps<R extends { assetId: string }> {
  access: Access;
  /** The recording by id (null: unknown or deleted). Structural, so that access/ does not import recording/. */
  find: (id: string) => Promise<R | null>;
  clock?: Clock | undefined;
}

/**
 * Who may replay which recording, for every entry point (REST, replay page,
 * CLI): a role holding `recordings.replay` (auditors, administrators)
 * replays everything, even recordings of assets deleted since; anyone else
 * needs `replay` on the recording's asset through a grant, valid now.
 */
export function createReplayAccess<R extends { assetId: string }>(deps: ReplayAccessDeps<R>): ReplayAccess<R> {
  const { access, find } = deps;
  const clock = deps.clock ?? systemClock;

  // A probe, not a refusal: decide() records nothing, so asking does not log every operator as denied.
  const replaysEverything = (principal: Principal): boolean => decide({ principal, action: 'recordings.replay', now: new Date(clock.now()) }).allowed;

  return {
    async scope(principal, context = {}) {
      if (replaysEverything(principal)) return { all: true };
      const assetIds = (await access.visibleAssets(principal, 'replay')).filter((a) => a.available).map((a) => a.id);
      if (assetIds.length > 0) return { all: false, assetIds };
      // Records `auth.denied` and throws `forbidden`: no role permission, and no grant makes up for it.
      await access.authorize(principal, 'recordings.replay', context);
      throw new AppError('forbidden');
    },

    async recording(principal, id, context = {}) {
      const found = await find(id);
      if (!found) throw new AppError('not_found');
      if (replaysEverything(principal)) return found;
      try {
        await access.authorizeAsset(principal, 'replay', found.assetId, context);
      } catch (error) {
        if (error instanceof AppError && error.code === 'forbidden') throw new AppError('not_found');
        throw error;
      }
      return found;
    },
  };
}
