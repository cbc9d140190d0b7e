import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, postFiles } from '../api.js';
import { t } from '../i18n/index.js';

/** A file the portal sent, kept for the owner (the live socket's `download` message, docs/live-view.md). */
export interface KeptDownload {
  id: string;
  fileName: string;
  size: number;
  sha256: string;
}

/** A file the portal sent that the owner cannot fetch (`download_dropped`); `key` tells notices apart. */
export interface DroppedDownload {
  key: string;
  fileName: string;
  reason: 'session_limit' | 'too_large' | 'failed';
}

const DROPPED_TEXT = { session_limit: 'live.downloadDroppedLimit', too_large: 'live.downloadDroppedTooLarge', failed: 'live.downloadDroppedFailed' } as const;

/** A file chooser of the portal waiting for the owner's files (`file_chooser`). */
export interface WaitingChooser {
  id: string;
  multiple: boolean;
  accept: string[];
}

export interface LiveTransfersProps {
  sessionId: string;
  downloads: KeptDownload[];
  dropped: DroppedDownload[];
  chooser: WaitingChooser | null;
  onDismiss: (id: string) => void;
  onDismissDropped: (key: string) => void;
  /** Answers the chooser with no file (the socket's `file_chooser_cancel`). */
  onCancel: (id: string) => void;
  /** The dialog is done (with what to tell, after a send): the keyboard goes back to the portal. */
  onDone: (notice?: () => string) => void;
}

const kilobytes = (size: number) => Math.max(1, Math.round(size / 1024));

/**
 * Files between the operator and the portal (controller only): a notice per file the portal sent,
 * with its download link, one per file it sent that cannot be fetched (not kept, or no longer), and a small dialog when the portal asks for files, which opens this
 * computer's own file dialog and sends the chosen files to the server.
 */
export function LiveTransfers(props: LiveTransfersProps) {
  const { sessionId, chooser } = props;
  const chooseButton = useRef<HTMLButtonElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [status, setStatus] = useState<{ text: () => string; busy: boolean } | null>(null);

  // The portal asks: the dialog takes the focus (the portal's page waits for it).
  useEffect(() => {
    if (!chooser) return;
    setStatus(null);
    chooseButton.current?.focus();
  }, [chooser?.id]);

  const send = async (files: FileList | null) => {
    if (!chooser || !files || files.length === 0) return;
    const form = new FormData();
    for (const file of Array.from(files)) form.append('file', file, file.name);
    setStatus({ text: () => t('live.uploading'), busy: true });
    try {
      const answer = await postFiles<{ files: Array<{ name: string }> }>(`/api/sessions/${encodeURIComponent(sessionId)}/uploads/${encodeURIComponent(chooser.id)}`, form);
      const names = answer.files.map((f) => f.name).join(', ');
      setStatus(null);
      props.onDone(() => t('live.uploaded', { names }));
    } catch (error) {
      const code = error instanceof ApiError ? error.code : 'internal';
      const text = code === 'payload_too_large' ? 'live.uploadTooLarge' : code === 'file_chooser_closed' ? 'live.uploadClosed' : code === 'forbidden' ? 'live.uploadBlocked' : 'live.uploadFailed';
      setStatus({ text: () => t(text), busy: false });
    } finally {
      if (input.current) input.current.value = '';
    }
  };
  const cancel = () => {
    if (!chooser) return;
    props.onCancel(chooser.id);
    props.onDone();
  };

  return (
    <aside class="live-transfers" id="live-transfers" aria-label={t('live.filesLabel')}>
      {chooser && (
        <div class="live-chooser" id="live-chooser" role="dialog" aria-labelledby="live-chooser-title" onKeyDown={(e) => e.key === 'Escape' && !status?.busy && cancel()}>
          <p id="live-chooser-title">{chooser.multiple ? t('live.uploadAskMany') : t('live.uploadAsk')}</p>
          <input
            ref={input}
            type="file"
            class="visually-hidden"
            id="live-chooser-input"
            tabIndex={-1}
            aria-hidden="true"
            multiple={chooser.multiple}
            accept={chooser.accept.join(',') || undefined}
            onChange={(e) => void send(e.currentTarget.files)}
          />
          <button type="button" class="small" id="live-chooser-choose" ref={chooseButton} disabled={status?.busy} onClick={() => input.current?.click()}>
            {t('live.chooseFiles')}
          </button>{' '}
          <button type="button" class="small secondary" id="live-chooser-cancel" disabled={status?.busy} onClick={cancel}>
            {t('live.uploadCancel')}
          </button>
        </div>
      )}
      <p class="live-transfer-status" id="live-transfer-status" role="status">
        {status ? status.text() : ''}
      </p>
      {props.downloads.length > 0 && (
        <ul class="live-downloads" id="live-downloads">
          {props.downloads.map((d) => (
            <li key={d.id}>
              <span>{t('live.downloadReady', { name: d.fileName, size: kilobytes(d.size) })}</span>{' '}
              <a class="button small" href={`/api/sessions/${encodeURIComponent(sessionId)}/downloads/${encodeURIComponent(d.id)}`} download={d.fileName} data-download={d.id}>
                {t('live.downloadLink', { name: d.fileName })}
              </a>{' '}
              <button type="button" class="small secondary" aria-label={t('live.dismissFile', { name: d.fileName })} onClick={() => props.onDismiss(d.id)}>
                {t('live.dismiss')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {props.dropped.length > 0 && (
        <ul class="live-downloads" id="live-dropped">
          {props.dropped.map((d) => (
            <li key={d.key} data-reason={d.reason}>
              <span>{t(DROPPED_TEXT[d.reason], { name: d.fileName })}</span>{' '}
              <button type="button" class="small secondary" aria-label={t('live.dismissFile', { name: d.fileName })} onClick={() => props.onDismissDropped(d.key)}>
                {t('live.dismiss')}
              </button>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
