export { createAccess, type Access, type RequestContext } from './authorize.js';
export { ROLE_PERMISSIONS, type Permission } from './permissions.js';
