import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../api.js';
import { durationText, t } from '../i18n/index.js';
import type { LinkState } from '../live/link.js';
import type { LiveMode, LiveTab } from '../live/protocol.js';
import { followInApp } from '../router.js';
import { ConfirmPanel } from '../ui.js';

/** What GET /api/sessions/{id} adds for this page (docs/api.md): the portal's name, its timeouts, its clipboard policy. */
export interface SessionFacts {
  assetName?: string | null;
  idleTimeoutMs?: number | null;
  maxDurationMs?: number | null;
  clipboardCopy?: 'allow' | 'deny' | null;
  clipboardPaste?: 'allow' | 'deny' | null;
}

/** A short notice of the bar (copied, paste refused); a function, so it follows a change of language. */
export interface Notice {
  text: () => string;
  at: number;
}

export interface LiveBarProps {
  barRef: RefObject<HTMLElement | null>;
  sessionId: string;
  detail: (BrowserSession & SessionFacts & { lastInputAt?: string }) | null;
  mode: LiveMode | null;
  link: LinkState;
  signingIn: boolean;
  ended: boolean;
  tabs: LiveTab[];
  watchers: { count: number; names: string[] };
  /** When this page last sent input (epoch ms; 0: not yet). */
  lastInputMs: number;
  copied: { text: string; truncated: boolean } | null;
  notice: Notice | null;
  onSwitchTab: (tabId: string) => void;
  onCopy: () => void;
  onPaste: () => void;
  onEnd: () => Promise<void>;
}

/** The slim bar over the remote browser: the portal, its tabs, the session's times, the clipboard, "End session". */
export function LiveBar(props: LiveBarProps) {
  const { detail, mode } = props;
  const [confirming, setConfirming] = useState(false);
  const now = useNow();
  const control = mode === 'control';
  const live = !props.ended && props.link !== 'closed';
  const name = detail?.assetName ?? detail?.assetId ?? '';

  const status = props.ended
    ? t('live.statusEnded')
    : props.link === 'reconnecting'
      ? t('live.statusReconnecting')
      : props.signingIn
        ? t('live.statusSigningIn')
        : mode === 'watch'
          ? t('live.statusWatching')
          : mode === 'control'
            ? t('live.statusLive')
            : t('live.connecting');

  // Times: from the start; until the maximum duration; until the idle timeout (from the last input the server or this page knows).
  const created = detail ? Date.parse(detail.createdAt) : NaN;
  const elapsed = Number.isFinite(created) ? now - created : null;
  const maxLeft = Number.isFinite(created) && detail?.maxDurationMs ? created + detail.maxDurationMs - now : null;
  const serverInput = detail?.lastInputAt ? Date.parse(detail.lastInputAt) : NaN;
  const lastInput = Math.max(Number.isFinite(serverInput) ? serverInput : 0, props.lastInputMs, Number.isFinite(created) ? created : 0);
  const idleEnds = control && detail?.idleTimeoutMs && lastInput > 0 && !props.signingIn ? lastInput + detail.idleTimeoutMs - now : null;
  // An idle timeout later than the maximum duration cannot happen: only the nearer end is worth a countdown.
  const idleLeft = idleEnds !== null && (maxLeft === null || idleEnds < maxLeft) ? idleEnds : null;

  return (
    <header class="live-bar" ref={props.barRef}>
      <div class="live-bar-row">
        <a class="live-back" href="/" onClick={(e) => followInApp(e, '/')}>
          <span aria-hidden="true">←</span> {t('live.portals')}
        </a>
        <h1 class="live-name" id="live-name">{name}</h1>
        <span class={`live-status${props.link === 'reconnecting' ? ' warn' : ''}`} id="live-status" role="status">
          {status}
        </span>
        <nav class="live-tabs" aria-label={t('live.tabsLabel')}>
          {props.tabs.map((tab) => (
            <button
              type="button"
              key={tab.id}
              class={tab.active ? 'active' : undefined}
              aria-current={tab.active ? 'page' : undefined}
              title={tab.url}
              disabled={!control || !live}
              onClick={() => props.onSwitchTab(tab.id)}
            >
              {tab.title || tab.url || t('live.untitledTab')}
            </button>
          ))}
        </nav>
        <span class="spacer" />
        {live && (
          <p class="live-times" aria-label={t('live.timesLabel')}>
            {elapsed !== null && <span id="live-elapsed">{t('live.elapsed', { time: durationText(elapsed) })}</span>}
            {idleLeft !== null && <span id="live-idle-left">{t('live.idleLeft', { time: durationText(Math.max(0, idleLeft)) })}</span>}
            {maxLeft !== null && <span id="live-max-left">{t('live.maxLeft', { time: durationText(Math.max(0, maxLeft)) })}</span>}
          </p>
        )}
        {live && control && props.copied && detail?.clipboardCopy !== 'deny' && (
          <button type="button" class="small" id="live-copy-out" onClick={props.onCopy}>
            {t('live.copyOut')}
          </button>
        )}
        {live && control && detail?.clipboardPaste === 'allow' && (
          <button type="button" class="small secondary" id="live-paste" onClick={props.onPaste}>
            {t('live.paste')}
          </button>
        )}
        {live && control && (
          <button type="button" class="small danger" id="live-end" onClick={() => setConfirming(true)} disabled={confirming}>
            {t('live.end')}
          </button>
        )}
      </div>
      {mode === 'watch' && live && (
        <p class="live-banner" id="live-read-only">
          {t('live.readOnly')}
        </p>
      )}
      {control && live && props.watchers.count > 0 && (
        <p class="live-banner watched" id="live-watchers" role="status">
          {props.watchers.names.length > 0 ? t('live.watchedBy', { names: props.watchers.names.join(', ') }) : t('live.watchedByCount', { count: props.watchers.count })}
        </p>
      )}
      <p class="live-notice" role="status" id="live-notice">
        {props.notice ? props.notice.text() : ''}
      </p>
      {confirming && live && (
        <div class="live-confirm">
          <ConfirmPanel
            id="live-end-confirm"
            message={t('live.endConfirm', { name })}
            confirmLabel={t('live.end')}
            onCancel={() => setConfirming(false)}
            onConfirm={async () => {
              await props.onEnd();
              setConfirming(false);
            }}
          />
        </div>
      )}
    </header>
  );
}

/** The clock, moved on every second. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  return now;
}
