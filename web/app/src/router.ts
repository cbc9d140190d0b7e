import { useEffect, useState } from 'preact/hooks';

/** The UI's own fixed addresses; the server answers each of them with the app (src/http/routes/web-ui.ts, CLIENT_ROUTES). */
export type FixedRoute = '/' | '/sign-in' | '/enrol' | '/my-sessions' | '/audit' | '/recordings' | '/admin';
/** The live view of one session (CLIENT_ID_ROUTES): `/sessions/{id}`, the id URI-encoded. */
export type SessionRoute = `/sessions/${string}`;
export type Route = FixedRoute | SessionRoute;

const ROUTES: readonly FixedRoute[] = ['/', '/sign-in', '/enrol', '/my-sessions', '/audit', '/recordings', '/admin'];
/** One path segment after /sessions/: `/sessions/{id}/view` (the minimal viewer) is the server's own page, not the app's. */
const SESSION_PATH = /^\/sessions\/([^/]+)$/;

/** The address of a session's live view. */
export function sessionRoute(sessionId: string): SessionRoute {
  return `/sessions/${encodeURIComponent(sessionId)}`;
}

/** The session id a live view's address names, or null for any other page. */
export function sessionIdOf(route: Route): string | null {
  const match = SESSION_PATH.exec(route);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

/** Whether the app has changed page itself since it loaded (then a new page moves the focus to its heading). */
let movedInApp = false;

export function hasNavigated(): boolean {
  return movedInApp;
}

function current(): Route {
  const path = window.location.pathname;
  if ((ROUTES as readonly string[]).includes(path)) return path as FixedRoute;
  return sessionIdOf(path as Route) !== null ? (path as SessionRoute) : '/';
}

/** Goes to another page of the app without a reload; `search` (`?a=b`) is kept in the address. */
export function navigate(to: Route, options: { replace?: boolean; search?: string } = {}): void {
  movedInApp = true;
  const url = `${to}${options.search ?? ''}`;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The page the address bar names, kept up to date with back and forward. */
export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onPop = () => {
      movedInApp = true;
      setRoute(current());
    };
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}

/**
 * The `returnTo` of the address (ForwardAuth's sign-in redirect, a bookmarked page), when it is a
 * path on this site: `/x`, never `//host` or `/\host`, which browsers treat as another site. An
 * absolute URL is left to the server, which checks it against its allowlist (single sign-on's
 * `returnTo`); null otherwise.
 */
export function returnPath(): string | null {
  const value = new URLSearchParams(window.location.search).get('returnTo');
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null;
  return value;
}

/** The raw `returnTo` of the address, for the server to check (single sign-on), or null. */
export function returnToParameter(): string | null {
  return new URLSearchParams(window.location.search).get('returnTo');
}

/** A link to a page of the app: a real address (new tab, copy) that a plain click follows without a reload. */
export function followInApp(event: MouseEvent, to: Route): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}
