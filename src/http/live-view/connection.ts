import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { RequestContext } from '../../access/index.js';
import { isAppError } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import { createFramePump, type FramePump } from './frame-pump.js';
import { DEFAULT_PING_INTERVAL_MS, keepAlive } from './heartbeat.js';
import { CLOSE, errorMessage, isInputEvent, parseClientMessage, type ClientMessage } from './messages.js';
import { createOpQueue } from './op-queue.js';
import { createOutbox } from './outbox.js';
import type { LiveEndReason, LiveFrame, LiveHandle, LiveMode, LiveSessions } from './ports.js';
import type { ViewerSlots } from './viewer-slots.js';
import { clampViewport, screencastOptions, type Viewport } from './viewport.js';
import type { WatcherRoster } from './watchers.js';

export interface LiveConnectionDeps {
  socket: WebSocket;
  sessions: LiveSessions;
  principal: Principal;
  sessionId: string;
  context: RequestContext;
  log: FastifyBaseLogger;
  /** Viewers per session on this node (shared by every connection of the server). */
  slots: ViewerSlots;
  /** The views of each session on this node: a controller is told who watches (shared by every connection of the server). */
  roster: WatcherRoster;
  /** How often the tab list is compared with what the viewer last got. */
  tabsPollMs?: number;
  /** Frames in flight per viewer (sent, not yet written and acked). */
  maxFramesInFlight?: number;
  /** How often the viewer is pinged; one that misses a pong until the next ping is cut (live-view/heartbeat.ts). */
  pingIntervalMs?: number;
  /** How long a passed check of the viewer's access holds before the view is checked again (ACCESS_RECHECK_MS). */
  accessRecheckMs?: number;
  /**
   * The viewer as they are now, for each check of their access: a web session's current principal (groups and roles
   * as refreshed since the upgrade), null once that session has ended. Absent: the principal of the upgrade. `active`:
   * the viewer sent input since the last check, which keeps their web session from timing out for idleness.
   */
  currentViewer?: (active: boolean) => Promise<Principal | null>;
}

/** Messages that arrive while the session is being attached; more is a client that does not wait. */
const EARLY_MESSAGE_LIMIT = 64;
/** Invalid messages in a row before the socket is closed. */
const INVALID_IN_A_ROW_LIMIT = 50;
/** Browser operations (input, resize, tab switch) allowed to wait at once. */
const OP_QUEUE_LIMIT = 256;
const DEFAULT_VIEWPORT: Viewport = { width: 1280, height: 720 };
/** Pastes allowed to wait at once (each holds up to MAX_PASTE_CHARS of text); more get `busy`. */
const PASTE_QUEUE_LIMIT = 4;
/** Starts of a screencast tried before the view gives up (waits of 0.2, 0.4, 0.8, 1.6 s between them). */
const SCREENCAST_ATTEMPTS = 5;
/**
 * An open view holds only while the grant it was attached under does (`connect` for the owner, `watch` for a watcher):
 * it is checked again on this period, and a browser operation waits for a new check once the last one is older.
 * A withdrawn grant therefore ends the view within about a second, or before the next input reaches the page, while
 * a viewer's many mouse moves a second cost one access decision a second, not one each.
 */
export const ACCESS_RECHECK_MS = 1_000;

/**
 * One viewer of one browser session, as named steps: listen (before
 * anything is awaited, so no message is lost), attach (may this principal
 * control or watch it?), announce (state, signing in, tabs), stream
 * (screencast through the frame pump), steer (input, resize, tabs) and end.
 */
export function runLiveConnection(deps: LiveConnectionDeps): void {
  const { socket, log } = deps;
  const outbox = createOutbox(socket);
  const early: ClientMessage[] = [];
  let handle: LiveHandle | null = null;
  /** Set once the early messages are replayed: from then on messages are steered as they come, in order. */
  let ready = false;
  let mode: LiveMode = 'watch';
  let finished = false;
  let invalidInARow = 0;
  let unsubscribeEnd: (() => void) | null = null;
  let unsubscribeCopy: (() => void) | null = null;
  let unsubscribeTransfers: (() => void) | null = null;
  let leaveRoster: (() => void) | null = null;
  let pastesWaiting = 0;
  let stopScreencast: (() => Promise<void>) | null = null;
  let tabsTimer: NodeJS.Timeout | null = null;
  let lastTabs = '';
  let signingIn = false;
  let holdsSlot = false;
  let resizeQueued = false;
  const accessRecheckMs = deps.accessRecheckMs ?? ACCESS_RECHECK_MS;
  /** Until when the last passed access check holds (counted from the moment it was asked, not answered). */
  let accessValidUntil = 0;
  let accessCheck: Promise<void> | null = null;
  /** Input arrived since the last access check began. */
  let activeSinceCheck = false;
  /** Once a check refused or failed, every later operation is refused without asking again. */
  let accessLost: { error: unknown } | null = null;
  let accessTimer: NodeJS.Timeout | null = null;
  /** Thrown by a check that found the viewer's web session gone; told apart from a refusal by identity. */
  const signedOut = new Error('signed out');
  let viewport: Viewport = DEFAULT_VIEWPORT;
  /** Page size (CSS pixels) of the frames sent lately, as the browser reports it. */
  let pageSize: Viewport | null = null;

  const pump: FramePump = createFramePump({
    maxInFlight: deps.maxFramesInFlight ?? 2,
    sink: { send: (data, done) => (socket.readyState === socket.OPEN ? socket.send(data, { binary: true }, done) : done()) },
  });
  const ops = createOpQueue({
    limit: OP_QUEUE_LIMIT,
    onError: (error) => {
      if (finished || handle?.browser.closed) return; // The end notice is on its way.
      log.warn({ err: error }, 'live view: browser operation failed');
      outbox.send(errorMessage('input_failed'), { droppable: true });
    },
  });

  // Step 1: listen.
  socket.on('message', (data, isBinary) => {
    if (finished) return;
    const message = parseClientMessage(data, isBinary);
    if (!message) return invalid();
    invalidInARow = 0;
    if (ready) return steer(message);
    if (early.length < EARLY_MESSAGE_LIMIT) early.push(message);
    else outbox.send(errorMessage('busy'), { droppable: true });
  });
  socket.on('close', () => cleanup());
  // A viewer that went silently away is terminated; its close then runs cleanup() as any other.
  keepAlive(socket, deps.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);

  function invalid(): void {
    outbox.send(errorMessage('invalid_message'), { droppable: true });
    if (++invalidInARow >= INVALID_IN_A_ROW_LIMIT) finish(CLOSE.protocolError, 'too many invalid messages');
  }

  // Step 2: attach.
  void attach().catch((error: unknown) => refuse(error));

  async function attach(): Promise<void> {
    const record = await deps.sessions.get(deps.sessionId, deps.principal);
    if (finished) return;
    if (record.state === 'ended') return ended(record.endReason ?? 'user');
    mode = record.userId === deps.principal.id ? 'control' : 'watch';
    const checkedAt = Date.now();
    const attached = await deps.sessions.attach(deps.sessionId, deps.principal, mode, deps.context);
    if (finished) return;
    if (!deps.slots.take(deps.sessionId)) {
      outbox.send(errorMessage('too_many_viewers'));
      return finish(CLOSE.tooManyViewers, 'too many viewers');
    }
    holdsSlot = true;
    handle = attached;
    // attach() has just made the check; the timer keeps it fresh for an idle controller and for watchers, who send no input.
    accessValidUntil = checkedAt + accessRecheckMs;
    accessTimer = setInterval(() => void recheckAccess().catch(() => undefined), accessRecheckMs);
    accessTimer.unref();
    unsubscribeEnd = attached.onEnd((reason) => ended(reason));
    if (finished) return; // onEnd may call back at once for a session that ended meanwhile.
    // What the page copies goes to the controller's own clipboard; a watcher never gets it.
    if (mode === 'control') unsubscribeCopy = attached.browser.onCopy((copied) => outbox.send({ type: 'clipboard', text: copied.text, truncated: copied.truncated }));
    announce();
    // Downloads and file choosers are the owner's: a watcher never hears of them.
    if (mode === 'control' && attached.transfers) unsubscribeTransfers = attached.transfers.subscribe((notice) => outbox.send(notice));
    leaveRoster = deps.roster.join(deps.sessionId, { mode, name: deps.principal.name, send: (message) => outbox.send(message) });
    await stream();
    if (finished) return;
    for (const message of early.splice(0)) steer(message);
    ready = true;
  }

  function refuse(error: unknown): void {
    if (finished) return;
    // A string, not ErrorCode: codes such as session_ended belong to other modules' rows of the catalog.
    const code: string = isAppError(error) ? error.code : 'internal';
    switch (code) {
      // Someone else's session and no session at all look the same.
      case 'not_found':
      case 'forbidden':
        outbox.send(errorMessage('not_found'));
        return finish(CLOSE.notFound, 'not found');
      case 'session_ended':
        outbox.send(errorMessage('session_ended'));
        return finish(CLOSE.sessionEnded, 'session ended');
      case 'audit_unavailable':
      case 'database_unavailable':
      case 'shared_state_unavailable':
      case 'shutting_down':
      case 'browser_unavailable':
        outbox.send(errorMessage('unavailable'));
        return finish(CLOSE.unavailable, 'unavailable');
      default:
        log.error({ err: error }, 'live view: attach failed');
        outbox.send(errorMessage('internal'));
        return finish(CLOSE.internal, 'internal error');
    }
  }

  // Step 3: announce.
  function announce(): void {
    const record = handle!.record;
    outbox.send({ type: 'state', state: record.state, mode, viewport: null });
    if (record.state === 'starting' || record.state === 'logging_in') {
      // The browser withholds frames until the login is done; the first frame means the page is the user's to see.
      signingIn = true;
      outbox.send({ type: 'signing_in' });
    }
    sendTabsIfChanged();
    tabsTimer = setInterval(sendTabsIfChanged, deps.tabsPollMs ?? 1_000);
    tabsTimer.unref();
  }

  function sendTabsIfChanged(): void {
    if (!handle || finished || handle.browser.closed) return;
    const tabs = handle.browser.tabs();
    const text = JSON.stringify(tabs);
    if (text === lastTabs) return;
    lastTabs = text;
    outbox.send({ type: 'tabs', tabs });
  }

  // Step 4: stream.
  async function stream(): Promise<void> {
    const browser = handle!.browser;
    const previous = stopScreencast;
    stopScreencast = null;
    if (previous) await previous().catch((error: unknown) => log.debug({ err: error }, 'live view: stopping the screencast failed'));
    const onFrame = (frame: LiveFrame) => {
      // The first frame ends the signing-in screen; a frame of another page size tells the viewer how to map its pointer.
      // Sent before that frame, and no frame of the old size can follow it (older frames were sent or are dropped).
      const size = frame.width > 0 && frame.height > 0 ? { width: frame.width, height: frame.height } : null;
      const resized = size !== null && (size.width !== pageSize?.width || size.height !== pageSize?.height);
      if (!finished && (signingIn || resized)) {
        signingIn = false;
        if (size) pageSize = size;
        outbox.send({ type: 'state', state: 'active', mode, viewport: pageSize });
      }
      pump.offer(frame);
      sendTabsIfChanged();
    };
    for (let attempt = 1; ; attempt++) {
      if (finished || browser.closed) return;
      try {
        const stop = await browser.startScreencast(screencastOptions(viewport), onFrame);
        if (finished) await stop().catch(() => undefined);
        else stopScreencast = stop;
        return;
      } catch (error) {
        // A tab in the middle of a navigation can refuse a new screencast for a moment; a closed session ends through onEnd.
        if (isAppError(error) || attempt >= SCREENCAST_ATTEMPTS) throw error;
        log.debug({ err: error, attempt }, 'live view: the screencast did not start; trying again');
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  // Step 5: steer.
  function steer(message: ClientMessage): void {
    const browser = handle!.browser;
    if (message.type === 'ack') return pump.clientAck();
    if (message.type === 'resize') {
      viewport = clampViewport(message);
      // A window being dragged sends many sizes; each restarts a screencast, so only the latest waiting one runs.
      if (resizeQueued) return;
      resizeQueued = queue(async () => {
        resizeQueued = false;
        // Only the controller sets the page's size; a watcher only chooses the size of its own frames.
        if (mode === 'control') await browser.resize(viewport.width, viewport.height);
        await stream();
      });
      return;
    }
    if (mode !== 'control') {
      outbox.send(errorMessage('read_only'), { droppable: true });
      return;
    }
    handle!.touch();
    if (isInputEvent(message)) {
      queue(() => browser.input(message));
      return;
    }
    if (message.type === 'paste') {
      if (pastesWaiting >= PASTE_QUEUE_LIMIT) {
        outbox.send(errorMessage('busy'), { droppable: true });
        return;
      }
      pastesWaiting++;
      const queued = queue(async () => {
        pastesWaiting--;
        if ((await browser.paste(message.text)) === 'denied') outbox.send(errorMessage('paste_denied'), { droppable: true });
      });
      if (!queued) pastesWaiting--;
      return;
    }
    if (message.type === 'file_chooser_cancel') {
      const transfers = handle!.transfers;
      if (!transfers) return;
      queue(() =>
        transfers.cancelChooser(message.id).catch((error: unknown) => {
          const code = isAppError(error) ? error.code : 'internal';
          if (code === 'not_found' || code === 'file_chooser_closed') outbox.send(errorMessage(code), { droppable: true });
          else if (code !== 'session_ended') throw error;
        }),
      );
      return;
    }
    // switch_tab
    if (!browser.tabs().some((tab) => tab.id === message.tabId)) {
      outbox.send(errorMessage('tab_not_found'), { droppable: true });
      return;
    }
    queue(async () => {
      await browser.switchTab(message.tabId);
      sendTabsIfChanged();
    });
  }

  /**
   * Every browser operation passes here: it runs only under a check of the viewer's access that is at most
   * accessRecheckMs old. A refusal closes the view (4403) and a check that cannot be made closes it as a failed attach
   * is closed (4503 unavailable, 4500 internal): either way the operation is dropped, never let through.
   */
  function queue(op: () => Promise<void>): boolean {
    const checked = async () => {
      await mayStillSteer();
      await op();
    };
    if (ops.push(checked)) return true;
    outbox.send(errorMessage('busy'), { droppable: true });
    return false;
  }

  function mayStillSteer(): Promise<void> {
    if (accessLost) return Promise.reject(accessLost.error);
    activeSinceCheck = true;
    return Date.now() < accessValidUntil ? Promise.resolve() : recheckAccess();
  }

  /** One check at a time, shared by the timer and the operations waiting for it. */
  function recheckAccess(): Promise<void> {
    if (accessLost) return Promise.reject(accessLost.error);
    if (accessCheck) return accessCheck;
    const askedAt = Date.now();
    const attached = handle!;
    const active = activeSinceCheck;
    activeSinceCheck = false;
    // Through then(), so a lookup that throws at once fails the check like one that rejects.
    accessCheck = Promise.resolve()
      .then(() => (deps.currentViewer ? deps.currentViewer(active) : deps.principal))
      .then((principal) => {
        if (principal === null) throw signedOut;
        return attached.recheck(principal);
      })
      .then(
        () => {
          accessValidUntil = askedAt + accessRecheckMs;
        },
        (error: unknown) => {
          accessLost = { error };
          accessWithdrawn(error);
          throw error;
        },
      )
      .finally(() => {
        accessCheck = null;
      });
    return accessCheck;
  }

  function accessWithdrawn(error: unknown): void {
    if (finished) return;
    if (error === signedOut) {
      outbox.send(errorMessage('signed_out'));
      return finish(CLOSE.signedOut, 'signed out');
    }
    const code: string = isAppError(error) ? error.code : 'internal';
    // recheck() answers a refusal as not_found, as attach does; this viewer saw the session, so the close says what happened.
    if (code !== 'not_found' && code !== 'forbidden') return refuse(error);
    outbox.send(errorMessage('access_revoked'));
    finish(CLOSE.accessRevoked, 'access revoked');
  }

  // Step 6: end.
  function ended(reason: LiveEndReason): void {
    if (finished) return;
    outbox.send({ type: 'ended', reason });
    finish(CLOSE.sessionEnded, `session ended: ${reason}`);
  }

  function finish(code: number, reason: string): void {
    cleanup();
    outbox.close(code, reason);
  }

  function cleanup(): void {
    if (finished) return;
    finished = true;
    if (holdsSlot) deps.slots.release(deps.sessionId);
    if (tabsTimer) clearInterval(tabsTimer);
    if (accessTimer) clearInterval(accessTimer);
    pump.close();
    unsubscribeEnd?.();
    unsubscribeCopy?.();
    unsubscribeTransfers?.();
    leaveRoster?.();
    const stop = stopScreencast;
    stopScreencast = null;
    if (stop) void stop().catch((error: unknown) => log.debug({ err: error }, 'live view: stopping the screencast failed'));
  }
}
