import { useState } from 'preact/hooks';
import { api, ApiError, describeError, setCsrfToken, type WhoAmI } from './api.js';
import { t } from './i18n/index.js';
import { LanguageSwitch } from './language-switch.js';
import { followInApp, type Route } from './router.js';

export interface SignedInProps {
  who: WhoAmI;
  /**
   * Back to the sign-in page, with a notice (a function: it is written in the language of the
   * moment). Unless `leaving` (the person signed out), sign-in returns to this page afterwards.
   */
  onSignedOut: (notice: () => string, leaving?: boolean) => void;
}

/** Roles whose permissions include the auditor's desk (`audit.read`, `recordings.replay`) and the console (every `admin.*`); src/access/permissions.ts. */
const DESK_ROLES = ['admin', 'auditor'];
const CONSOLE_ROLES = ['admin'];

/** Whether the signed-in user's roles show the auditor's desk; the API decides again on every request. */
export const seesDesk = (roles: readonly string[]) => roles.some((role) => DESK_ROLES.includes(role));
/** Whether they show the administrator's console. */
export const seesConsole = (roles: readonly string[]) => roles.some((role) => CONSOLE_ROLES.includes(role));

const PAGES: ReadonlyArray<{ route: Route; label: () => string; shown?: (roles: readonly string[]) => boolean }> = [
  { route: '/', label: () => t('nav.portals') },
  { route: '/my-sessions', label: () => t('nav.sessions') },
  { route: '/audit', label: () => t('nav.audit'), shown: seesDesk },
  { route: '/recordings', label: () => t('nav.recordings'), shown: seesDesk },
  { route: '/admin', label: () => t('nav.admin'), shown: seesConsole },
];

/** The frame of the signed-in pages: a banner with the app's pages, who is signed in, the language and "Sign out". */
export function SignedInFrame(props: SignedInProps & { current: Route; children: preact.ComponentChildren }) {
  const [error, setError] = useState<unknown>(null);

  const signOut = async () => {
    try {
      const answer = await api<{ loggedOut: boolean; logoutUrl: string | null }>('POST', '/api/auth/logout');
      setCsrfToken(null);
      if (answer.logoutUrl) window.location.assign(answer.logoutUrl);
      else props.onSignedOut(() => t('app.signedOut'), true);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) props.onSignedOut(() => t('app.signedOut'), true);
      else setError(e);
    }
  };

  return (
    <div class="page">
      <a class="skip-link" href="#content">{t('app.skipToContent')}</a>
      <header class="topbar">
        <span class="brand">
          <span class="logo" aria-hidden="true">◆</span> WebAsset Controller
        </span>
        <nav aria-label={t('nav.label')}>
          <ul class="nav">
            {PAGES.filter((page) => !page.shown || page.shown(props.who.user.roles)).map((page) => (
              <li key={page.route}>
                <a href={page.route} aria-current={props.current === page.route ? 'page' : undefined} onClick={(e) => followInApp(e, page.route)}>
                  {page.label()}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="spacer" />
        <span class="who" id="who" title={t('nav.signedInAs', { name: props.who.user.name })}>{props.who.user.name}</span>
        <LanguageSwitch />
        <button type="button" class="secondary" id="sign-out" onClick={() => void signOut()}>
          {t('nav.signOut')}
        </button>
      </header>
      <main class="content" id="content" tabIndex={-1}>
        {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
        {props.children}
      </main>
    </div>
  );
}
