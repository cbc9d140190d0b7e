// Runs one automatic login in a child process started with tsx, which keeps function names
// (esbuild keepNames): a page function with a named inner helper then fails in the page.
import { runLogin } from '../../../src/browser/login/index.js';
import { CANARY_PASSWORD, CANARY_SEED, CANARY_USERNAME, credential, hostGuard, launchBrowser, newPage, startPortal } from './support.js';

const { portal, url } = await startPortal();
const browser = await launchBrowser();
try {
  const { context, page } = await newPage(browser);
  const input = { startUrl: `${url}/login-two-page`, recipe: null, successCheck: null, failureCheck: null, timeoutMs: 20_000 };
  const outcome = await runLogin(page, context, { ...input, readCredential: async () => credential({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED }) }, hostGuard(['127.0.0.1'], true));
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
} finally {
  await browser.close();
  await portal.stop();
}
