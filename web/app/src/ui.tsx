// Small pieces the auditor's desk and the administrator's console share: loaded with them, not with the launcher.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, describeError } from './api.js';
import type { SignedInProps } from './frame.js';
import { t } from './i18n/index.js';

/** The value of a `datetime-local` field (the reader's wall clock) as an ISO time with a zone, for the API; '' stays ''. */
export function isoFromLocal(value: string): string {
  if (value === '') return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/** The API's refusal, with the fields it names (`details`: field and problem, never the value). */
export function ErrorMessage(props: { error: unknown; id?: string }) {
  if (props.error === null || props.error === undefined) return null;
  const problems = props.error instanceof ApiError && Array.isArray(props.error.details) ? (props.error.details as Array<{ field?: string; problem?: string }>) : [];
  return (
    <div class="error" role="alert" id={props.id}>
      <p>{describeError(props.error)}</p>
      {problems.length > 0 && (
        <ul>
          {problems.map((p, i) => (
            <li key={i}>{`${p.field ?? ''}: ${p.problem ?? ''}`}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One argument of a shell command, quoted when it needs to be (single quotes, a quote inside written '\''). */
export function shellArg(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A button that copies `text`; it says "Copied" for a moment. `label` names what is copied, for a screen reader. */
export function CopyButton(props: { text: string; label: string; id?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = window.setTimeout(() => setState('idle'), 2500);
    return () => window.clearTimeout(timer);
  }, [state]);
  const copy = () => navigator.clipboard.writeText(props.text).then(() => setState('copied'), () => setState('failed'));
  return (
    <span class="copy">
      <button type="button" class="secondary small" id={props.id} onClick={() => void copy()} aria-label={`${t('ui.copy')}: ${props.label}`}>
        {t('ui.copy')}
      </button>
      <span class="muted" role="status">
        {state === 'copied' ? t('ui.copied') : state === 'failed' ? t('ui.copyFailed') : ''}
      </span>
    </span>
  );
}

/** A command to run on the server, with a copy button. */
export function Command(props: { text: string; label: string }) {
  return (
    <div class="command">
      <code>{props.text}</code>
      <CopyButton text={props.text} label={props.label} />
    </div>
  );
}

/**
 * The confirmation of a destructive action, shown in place: what will happen, an optional reason
 * (required when `reasonRequired`), "Confirm" and "Cancel". It takes the focus when it appears; the
 * API's refusal is shown in it.
 */
export function ConfirmPanel(props: {
  id: string;
  message: string;
  confirmLabel: string;
  reason?: 'optional' | 'required';
  onConfirm: (reason: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    (ref.current?.querySelector('textarea, button') as HTMLElement | null)?.focus();
  }, []);
  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm(reason.trim());
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const reasonId = `${props.id}-reason`;
  return (
    <div class="confirm" id={props.id} ref={ref} role="group" aria-labelledby={`${props.id}-message`}>
      <p id={`${props.id}-message`}>{props.message}</p>
      <form onSubmit={(e) => void confirm(e)}>
        {props.reason && (
          <>
            <label for={reasonId}>{props.reason === 'required' ? t('ui.reasonRequired') : t('ui.reasonOptional')}</label>
            <textarea id={reasonId} rows={2} maxLength={500} required={props.reason === 'required'} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </>
        )}
        {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
        <div class="actions">
          <button type="submit" class="danger" disabled={busy || (props.reason === 'required' && reason.trim() === '')}>
            {props.confirmLabel}
          </button>
          <button type="button" class="secondary" onClick={props.onCancel} disabled={busy}>
            {t('ui.cancel')}
          </button>
        </div>
      </form>
    </div>
  );
}

/** A page of results behind a cursor: the cursors of the pages before, so "Previous" goes back without the API keeping any. */
export function useCursorPages() {
  const [stack, setStack] = useState<Array<string | null>>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    page: stack.length,
    next: (nextCursor: string) => setStack((s) => [...s, nextCursor]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

/** "Previous page" / "Page N" / "Next page". */
export function Pager(props: { id: string; page: number; hasNext: boolean; onPrevious: () => void; onNext: () => void; busy?: boolean }) {
  return (
    <nav class="pager" aria-label={t('ui.pages')} id={props.id}>
      <button type="button" class="secondary small" disabled={props.page <= 1 || props.busy} onClick={props.onPrevious}>
        {t('ui.previousPage')}
      </button>
      <span class="muted">{t('ui.pageNumber', { page: props.page })}</span>
      <button type="button" class="secondary small" disabled={!props.hasNext || props.busy} onClick={props.onNext}>
        {t('ui.nextPage')}
      </button>
    </nav>
  );
}

/**
 * A value shown once (a new token, an enrolment link): its heading takes the focus when it appears,
 * so a keyboard or screen-reader user lands on it; "Done" forgets it.
 */
export function OneTimeValue(props: { id: string; valueId: string; title: string; children: preact.ComponentChildren; value: string; copyId?: string; doneId?: string; doneLabel: string; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <div class="panel" id={props.id} role="region" aria-labelledby={`${props.id}-title`}>
      <h3 id={`${props.id}-title`} ref={heading} tabIndex={-1}>{props.title}</h3>
      {props.children}
      <code class="secret" id={props.valueId}>{props.value}</code>
      <div class="actions">
        <CopyButton text={props.value} label={props.title} id={props.copyId} />
        <button type="button" class="secondary small" id={props.doneId} onClick={props.onDone}>{props.doneLabel}</button>
      </div>
    </div>
  );
}

/**
 * A search page's state: the filters being typed (`form`), those of the last search, the page behind a
 * cursor, and what `fetcher(filters, cursor)` answered; a 401 hands over to sign-in. `field(name)` gives
 * an input its id (`${idPrefix}-${name}`), value and handler.
 */
export function useFilteredSearch<F extends { [K in keyof F]: string }, R>(options: { empty: F; idPrefix: string; fetcher: (filters: F, cursor: string | null) => Promise<R>; onSignedOut: SignedInProps['onSignedOut'] }) {
  const [form, setForm] = useState<F>(options.empty);
  const [applied, setApplied] = useState<F>(options.empty);
  const pages = useCursorPages();
  const [result, setResult] = useState<R | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const latest = useRef(options);
  latest.current = options;

  const load = useCallback(async (filters: F, cursor: string | null) => {
    setBusy(true);
    try {
      setResult(await latest.current.fetcher(filters, cursor));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) latest.current.onSignedOut(() => t('app.sessionOver'));
      else setError(e);
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    void load(applied, pages.cursor);
  }, [load, applied, pages.cursor]);

  const search = (event: Event) => {
    event.preventDefault();
    pages.reset();
    setApplied({ ...form });
  };
  const clear = () => {
    setForm(latest.current.empty);
    pages.reset();
    setApplied(latest.current.empty);
  };
  const field = (name: keyof F & string) => ({
    id: `${options.idPrefix}-${name}`,
    value: form[name],
    onInput: (e: Event) => setForm((f) => ({ ...f, [name]: (e.currentTarget as HTMLInputElement).value })),
  });
  return { applied, pages, result, error, busy, search, clear, field };
}

/** A labelled form field: the label, the control (`children`, with `id`), and an optional hint (`${id}-hint`, for its aria-describedby). */
export function Field(props: { id: string; label: ComponentChildren; hint?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint !== undefined && (
        <small id={`${props.id}-hint`} class="muted">
          {props.hint}
        </small>
      )}
    </div>
  );
}
