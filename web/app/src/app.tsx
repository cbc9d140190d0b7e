import { useCallback, useEffect, useState } from 'preact/hooks';
import { currentSession, describeError, type WhoAmI } from './api.js';
import { seesConsole, seesDesk, SignedInFrame, type SignedInProps } from './frame.js';
import { t, useLanguage } from './i18n/index.js';
import { LanguageSwitch } from './language-switch.js';
import { Enrol } from './pages/enrol.js';
import { Launcher } from './pages/launcher.js';
import { MySessions } from './pages/my-sessions.js';
import { SignIn } from './pages/sign-in.js';
import { navigate, returnPath, sessionIdOf, useRoute, type Route } from './router.js';

type PageComponent = (props: SignedInProps) => preact.JSX.Element;

/**
 * The auditor's desk and the administrator's console are loaded when first opened: an operator's
 * first load carries none of their code (decision 0025, the initial JavaScript budget).
 */
const LAZY_PAGES: Partial<Record<Route, { load: () => Promise<PageComponent>; shown: (roles: readonly string[]) => boolean }>> = {
  '/audit': { load: () => import('./pages/audit.js').then((m) => m.AuditSearch), shown: seesDesk },
  '/recordings': { load: () => import('./pages/recordings.js').then((m) => m.RecordingSearch), shown: seesDesk },
  '/admin': { load: () => import('./pages/admin.js').then((m) => m.AdminConsole), shown: seesConsole },
};
/** The live view of a session (`/sessions/{id}`): loaded when first opened, like the desk and the console. */
const LIVE_PAGE = { load: () => import('./pages/live-session.js').then((m) => m.LiveSession), shown: () => true };

type SessionState = { kind: 'loading' } | { kind: 'signed-out'; notice?: () => string; leaving?: boolean } | { kind: 'signed-in'; who: WhoAmI } | { kind: 'failed'; error: unknown };

/** The app: who is signed in decides between the sign-in page and the signed-in pages; the enrolment link has its own page. */
export function App() {
  // The whole app renders again when the language changes.
  useLanguage();
  const route = useRoute();
  const [session, setSession] = useState<SessionState>({ kind: 'loading' });

  const refresh = useCallback(async () => {
    try {
      const who = await currentSession();
      setSession(who ? { kind: 'signed-in', who } : { kind: 'signed-out' });
    } catch (error) {
      setSession({ kind: 'failed', error });
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // The page follows the session: signed out goes to sign-in, signed in leaves it.
  useEffect(() => {
    if (route === '/enrol') return;
    if (session.kind === 'signed-out' && route !== '/sign-in') {
      // A bookmarked page, a live view's link or an expired session: sign-in comes back here (a path, checked again by returnPath()).
      const here = `${window.location.pathname}${window.location.search}`;
      navigate('/sign-in', { replace: true, search: session.leaving || route === '/' ? '' : `?returnTo=${encodeURIComponent(here)}` });
    }
    if (session.kind === 'signed-in' && route === '/sign-in') {
      const back = returnPath();
      if (back && back !== '/' && back !== '/sign-in') window.location.assign(back);
      else navigate('/', { replace: true });
    }
  }, [route, session.kind]);

  if (route === '/enrol') return <Enrol />;
  const signedOut = (notice: () => string, leaving?: boolean) => setSession({ kind: 'signed-out', notice, leaving });
  switch (session.kind) {
    case 'loading':
      return <Shell><p class="muted" role="status">{t('app.loading')}</p></Shell>;
    case 'failed':
      return (
        <Shell>
          <p class="error" role="alert">{describeError(session.error)}</p>
          <button type="button" onClick={() => void refresh()}>{t('app.tryAgain')}</button>
        </Shell>
      );
    case 'signed-out':
      return <SignIn notice={session.notice} onSignedIn={() => void refresh()} />;
    case 'signed-in': {
      const lazy = sessionIdOf(route) !== null ? LIVE_PAGE : LAZY_PAGES[route];
      if (lazy) return <LazyPage key={route} route={route} who={session.who} onSignedOut={signedOut} load={lazy.load} allowed={lazy.shown(session.who.user.roles)} />;
      return route === '/my-sessions' ? <MySessions who={session.who} onSignedOut={signedOut} /> : <Launcher who={session.who} onSignedOut={signedOut} />;
    }
  }
}

/** A page loaded on first use; a role without it sees a plain refusal (the API refuses its requests anyway). */
function LazyPage(props: SignedInProps & { route: Route; load: () => Promise<PageComponent>; allowed: boolean }) {
  const [Page, setPage] = useState<PageComponent | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { load, allowed } = props;
  useEffect(() => {
    if (!allowed) return;
    let live = true;
    load().then(
      (page) => live && setPage(() => page),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [load, allowed]);
  if (Page) return <Page who={props.who} onSignedOut={props.onSignedOut} />;
  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current={props.route}>
      {!allowed && <p class="error" role="alert">{t('app.notForYou')}</p>}
      {allowed && error === null && <p class="muted" role="status">{t('app.loading')}</p>}
      {allowed && error !== null && (
        <p class="error" role="alert">
          {t('app.pageNotLoaded')}
        </p>
      )}
    </SignedInFrame>
  );
}

/** The frame of the pages shown before or without a signed-in user: the product's name, the page, the language switch below it. */
export function Shell(props: { children: preact.ComponentChildren }) {
  return (
    <div class="shell">
      <header class="brand">
        <span class="logo" aria-hidden="true">◆</span> WebAsset Controller
      </header>
      <main>{props.children}</main>
      <footer class="shell-footer">
        <LanguageSwitch />
      </footer>
    </div>
  );
}
