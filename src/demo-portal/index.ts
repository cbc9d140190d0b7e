export { createDemoPortal, type DemoPortal, type DemoPortalOptions } from './portal.js';
export { VARIANTS } from './pages.js';
export { DEMO_CREDENTIALS } from './credentials.js';
