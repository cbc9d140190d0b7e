export { createHttpServer, type HttpDeps } from './server.js';
