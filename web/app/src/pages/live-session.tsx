import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type BrowserSession } from '../api.js';
import type { SignedInProps } from '../frame.js';
import { useTitle } from '../focus.js';
import { hasMessage, t } from '../i18n/index.js';
import { attachInput, sendPaste } from '../live/input.js';
import { createLiveLink, type LinkState, type LiveLink } from '../live/link.js';
import { MAX_PASTE_CHARS, type LiveMode, type LiveTab, type ServerMessage } from '../live/protocol.js';
import { followInApp, sessionIdOf, useRoute } from '../router.js';
import { LiveBar, type Notice, type SessionFacts } from './live-session-bar.js';
import { LiveTransfers, type DroppedDownload, type KeptDownload, type WaitingChooser } from './live-transfers.js';

/** Why the view stopped for good, when it was not the session's end. */
type Failure = 'not_found' | 'too_many_viewers' | 'protocol' | 'access_revoked' | 'signed_out' | null;

/** A live session as GET /api/sessions/{id} gives it, with the facts the bar needs (docs/api.md). */
export type SessionDetail = BrowserSession & SessionFacts & { lastInputAt?: string };

/** How long the window must keep a size before the remote page is laid out again at it. */
const RESIZE_SETTLE_MS = 200;

/**
 * The live view of one session (`/sessions/{id}`): the remote browser in the whole window under a
 * slim bar. Frames come over the live socket (live/link.ts), mouse and keyboard go back (live/input.ts);
 * a dropped socket is opened again without losing the session.
 */
export function LiveSession(props: SignedInProps) {
  const route = useRoute();
  const sessionId = sessionIdOf(route) ?? '';
  const [detail, setDetail] = useState<SessionDetail | null>(null);
  const [link, setLink] = useState<LinkState>('connecting');
  const [mode, setMode] = useState<LiveMode | null>(null);
  const [signingIn, setSigningIn] = useState(false);
  const [hasFrame, setHasFrame] = useState(false);
  const [tabs, setTabs] = useState<LiveTab[]>([]);
  const [watchers, setWatchers] = useState<{ count: number; names: string[] }>({ count: 0, names: [] });
  const [ended, setEnded] = useState<string | null>(null);
  const [failure, setFailure] = useState<Failure>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [copied, setCopied] = useState<{ text: string; truncated: boolean } | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [lastInputMs, setLastInputMs] = useState(0);
  const [downloads, setDownloads] = useState<KeptDownload[]>([]);
  const [dropped, setDropped] = useState<DroppedDownload[]>([]);
  const droppedCount = useRef(0);
  const [chooser, setChooser] = useState<WaitingChooser | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const keys = useRef<HTMLTextAreaElement>(null);
  const stage = useRef<HTMLElement>(null);
  const bar = useRef<HTMLElement>(null);
  const liveLink = useRef<LiveLink | null>(null);
  const modeRef = useRef<LiveMode | null>(null);
  const focused = useRef(false);
  const latest = useRef(props.onSignedOut);
  latest.current = props.onSignedOut;
  useTitle(detail?.assetName ? t('live.titleOf', { name: detail.assetName }) : t('live.title'));

  const say = useCallback((text: () => string) => setNotice({ text, at: Date.now() }), []);
  const readDetail = useCallback(async () => {
    try {
      setDetail(await api<SessionDetail>('GET', `/api/sessions/${encodeURIComponent(sessionId)}`));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) latest.current(() => t('app.sessionOver'));
      else if (e instanceof ApiError && e.status === 404) setFailure('not_found');
      // Anything else: the bar goes without the asset's facts; the socket decides what is shown.
    }
  }, [sessionId]);

  useEffect(() => {
    void readDetail();
  }, [readDetail]);

  // A notice stays a few seconds.
  useEffect(() => {
    if (!notice) return;
    const timer = window.setTimeout(() => setNotice(null), 5000);
    return () => window.clearTimeout(timer);
  }, [notice]);

  const sendSize = useCallback(() => {
    const box = stage.current;
    if (box) liveLink.current?.send({ type: 'resize', width: Math.round(box.clientWidth), height: Math.round(box.clientHeight) });
  }, []);

  // The socket, and the input it carries, for as long as the page shows this session.
  useEffect(() => {
    if (!canvas.current || !keys.current || sessionId === '') return;
    const onMessage = (message: ServerMessage) => {
      switch (message.type) {
        case 'state':
          modeRef.current = message.mode;
          setMode(message.mode);
          setUnavailable(false);
          if (message.state === 'active') setSigningIn(false);
          break;
        case 'signing_in':
          setSigningIn(true);
          break;
        case 'tabs':
          setTabs(message.tabs);
          break;
        case 'watchers':
          setWatchers({ count: message.count, names: message.names });
          break;
        case 'clipboard':
          copiedOut(message.text, message.truncated);
          break;
        case 'download': {
          const { id, fileName, size, sha256 } = message;
          // Sent again on every attach: one notice per file, the newest 20.
          setDownloads((list) => (list.some((d) => d.id === id) ? list : [...list, { id, fileName, size, sha256 }].slice(-20)));
          break;
        }
        case 'download_dropped': {
          const { id, fileName, reason } = message;
          // A kept file that made room for newer ones: its link would answer 404 now.
          if (id !== undefined) setDownloads((list) => list.filter((d) => d.id !== id));
          droppedCount.current += 1;
          setDropped((list) => [...list, { key: `${droppedCount.current}`, fileName, reason }].slice(-5));
          break;
        }
        case 'file_chooser':
          setChooser({ id: message.id, multiple: message.multiple, accept: message.accept });
          break;
        case 'file_chooser_closed':
          setChooser((current) => (current?.id === message.id ? null : current));
          break;
        case 'ended':
          setEnded(message.reason);
          // The end's message (an administrator's reason) is in the session's record.
          void readDetail();
          break;
        case 'error':
          if (message.code === 'not_found') setFailure('not_found');
          else if (message.code === 'too_many_viewers') setFailure('too_many_viewers');
          else if (message.code === 'access_revoked') setFailure('access_revoked');
          else if (message.code === 'signed_out') setFailure('signed_out');
          else if (message.code === 'unavailable') setUnavailable(true);
          else if (message.code === 'paste_denied') say(() => t('live.pasteDenied'));
          else if (message.code === 'busy') say(() => t('live.busy'));
          else if (message.code === 'read_only') say(() => t('live.readOnlyInput'));
          break;
      }
    };
    const copiedOut = (text: string, truncated: boolean) => {
      setCopied({ text, truncated });
      // Written at once when this browser allows it (a recent click or key of the person); otherwise the button does it.
      navigator.clipboard?.writeText(text).then(
        () => {
          setCopied(null);
          say(() => (truncated ? t('live.copiedCut') : t('live.copied')));
        },
        () => say(() => t('live.copyWaiting')),
      );
    };
    const created = createLiveLink({
      sessionId,
      canvas: canvas.current,
      onMessage,
      onFrame: () => {
        setHasFrame(true);
        setSigningIn(false);
        // The portal has the keyboard once it is there to see (a watcher's keys would go nowhere).
        if (!focused.current && modeRef.current === 'control') {
          focused.current = true;
          keys.current?.focus({ preventScroll: true });
        }
      },
      onLink: (state, code) => {
        setLink(state);
        if (state === 'open') sendSize();
        if (state === 'closed' && code === 4404) setFailure('not_found');
        if (state === 'closed' && code === 4429) setFailure('too_many_viewers');
        if (state === 'closed' && code === 4400) setFailure('protocol');
        if (state === 'closed' && code === 4403) setFailure('access_revoked');
        if (state === 'closed' && code === 4401) setFailure('signed_out');
      },
    });
    liveLink.current = created;
    const detach = attachInput({
      canvas: canvas.current,
      keys: keys.current,
      link: created,
      controls: () => modeRef.current === 'control',
      onActivity: () => setLastInputMs(Date.now()),
      onPasteCut: () => say(() => t('live.pasteCut', { count: MAX_PASTE_CHARS })),
      onLeave: () => (bar.current?.querySelector('button:not([disabled]), a') as HTMLElement | null)?.focus(),
    });
    return () => {
      detach();
      created.close();
      liveLink.current = null;
    };
  }, [sessionId, readDetail, say, sendSize]);

  // The remote page is laid out at the size of the stage (once the window stops changing size).
  useEffect(() => {
    const box = stage.current;
    if (!box) return;
    let timer: number | undefined;
    const observer = new ResizeObserver(() => {
      window.clearTimeout(timer);
      timer = window.setTimeout(sendSize, RESIZE_SETTLE_MS);
    });
    observer.observe(box);
    return () => {
      observer.disconnect();
      window.clearTimeout(timer);
    };
  }, [sendSize]);

  const copyToComputer = async () => {
    if (!copied) return;
    try {
      await navigator.clipboard.writeText(copied.text);
      say(() => (copied.truncated ? t('live.copiedCut') : t('live.copied')));
      setCopied(null);
      keys.current?.focus({ preventScroll: true });
    } catch {
      say(() => t('live.copyRefused'));
    }
  };
  const pasteFromComputer = async () => {
    const current = liveLink.current;
    try {
      const text = await navigator.clipboard.readText();
      if (text && current) sendPaste(current, text, { onActivity: () => setLastInputMs(Date.now()), onPasteCut: () => say(() => t('live.pasteCut', { count: MAX_PASTE_CHARS })) });
      keys.current?.focus({ preventScroll: true });
    } catch {
      say(() => t('live.pasteRefused'));
    }
  };
  const endSession = async () => {
    try {
      await api('DELETE', `/api/sessions/${encodeURIComponent(sessionId)}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'session_ended')) throw e;
    }
  };

  const over = ended !== null || failure !== null;
  const overlay = over
    ? null
    : link === 'reconnecting'
      ? t('live.reconnecting')
      : unavailable
        ? t('live.unavailable')
        : signingIn
          ? t('live.signingIn', { name: detail?.assetName ?? t('live.thePortal') })
          : !hasFrame
            ? link === 'connecting'
              ? t('live.connecting')
              : t('live.waitingForPicture')
            : null;

  return (
    <div class={`live-view${mode === 'watch' ? ' watching' : ''}`}>
      <LiveBar
        barRef={bar}
        sessionId={sessionId}
        detail={detail}
        mode={mode}
        link={link}
        signingIn={signingIn}
        ended={ended !== null}
        tabs={tabs}
        watchers={watchers}
        lastInputMs={lastInputMs}
        copied={copied}
        notice={notice}
        onSwitchTab={(tabId) => {
          liveLink.current?.send({ type: 'switch_tab', tabId });
          setLastInputMs(Date.now());
          keys.current?.focus({ preventScroll: true });
        }}
        onCopy={() => void copyToComputer()}
        onPaste={() => void pasteFromComputer()}
        onEnd={endSession}
      />
      <main class="live-stage" ref={stage} id="content">
        {mode === 'control' && !over && (downloads.length > 0 || dropped.length > 0 || chooser) && (
          <LiveTransfers
            sessionId={sessionId}
            downloads={downloads}
            dropped={dropped}
            chooser={chooser}
            onDismiss={(id) => setDownloads((list) => list.filter((d) => d.id !== id))}
            onDismissDropped={(key) => setDropped((list) => list.filter((d) => d.key !== key))}
            onCancel={(id) => {
              liveLink.current?.send({ type: 'file_chooser_cancel', id });
              setChooser(null);
            }}
            onDone={(text) => {
              if (text) say(text);
              keys.current?.focus({ preventScroll: true });
            }}
          />
        )}
        <canvas ref={canvas} class="live-screen" role="img" aria-label={t('live.screenLabel', { name: detail?.assetName ?? t('live.thePortal') })} />
        <textarea
          ref={keys}
          class="live-keys"
          id="live-keys"
          autocomplete="off"
          autocapitalize="off"
          spellcheck={false}
          aria-label={t('live.keysLabel')}
          aria-describedby="live-keys-hint"
          readOnly={mode !== 'control'}
        />
        <p id="live-keys-hint" class="visually-hidden">{t('live.keysHint')}</p>
        {overlay !== null && (
          <div class={`live-overlay${hasFrame ? ' over-frame' : ''}`} id="live-overlay" role="status">
            {overlay}
          </div>
        )}
        {over && (
          <div class="live-overlay" id="live-over">
            <div class="live-over-panel" role="alert">
              {ended !== null ? <EndedText reason={ended} message={detail?.endMessage ?? null} /> : <p id="live-failure">{failureText(failure, detail !== null && detail.state !== 'ended' && detail.userId !== props.who.user.id)}</p>}
              <a class="button" href="/" onClick={(e) => followInApp(e, '/')}>
                {t('live.backToPortals')}
              </a>
            </div>
          </div>
        )}
      </main>
    </div>
  );
}

/** The end, in words: why, and an administrator's message when there is one. */
function EndedText(props: { reason: string; message: string | null }) {
  const key = `endReason.${props.reason}`;
  return (
    <>
      <h2 id="live-ended">{t('live.ended')}</h2>
      <p id="live-ended-reason">{hasMessage(key) ? t(key) : t('endReason.unknown')}</p>
      {props.reason === 'admin' && props.message && <p id="live-admin-message">{t('live.adminMessage', { message: props.message })}</p>}
    </>
  );
}

/**
 * `othersVisible`: the API showed someone else's session (an administrator may read every session),
 * yet the socket would not attach it: watching needs `watch` on its portal.
 */
function failureText(failure: Failure, othersVisible: boolean): string {
  if (failure === 'not_found') return othersVisible ? t('live.cannotWatch') : t('live.notFound');
  if (failure === 'too_many_viewers') return t('live.tooManyViewers');
  if (failure === 'access_revoked') return t('live.accessRevoked');
  if (failure === 'signed_out') return t('live.signedOut');
  return t('live.protocolError');
}
