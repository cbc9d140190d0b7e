export { createHttpServer, type HttpDeps } from './server.js';
export { createForwardAuthStats, type ForwardAuthStats } from './routes/authz.js';
export { registerRouteAccess, type RouteAccess, type RouteAccessDeps } from './route-access.js';
export { SESSION_COOKIE, INSECURE_SESSION_COOKIE, type SessionCookies } from './session-cookie.js';
export { CSRF_HEADER } from './csrf.js';
export { routeTableOf, type RouteEntry } from './route-table.js';
export { createLiveViewRelay, type LiveViewRelay, type LiveViewRelayDeps } from './live-view/relay.js';
export { createSessionRelay, type SessionRelay, type SessionRelayDeps } from './session-relay.js';
