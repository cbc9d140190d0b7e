export { createHttpServer, type HttpDeps } from './server.js';
export { createForwardAuthStats, type ForwardAuthStats } from './routes/authz.js';
