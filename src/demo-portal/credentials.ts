/**
 * The demo portal's built-in account, used by `webasset demo-portal` without `--credentials` and by
 * the quickstart's vault entry. Public on purpose: it guards a fake bank on the loopback interface.
 * Anything real uses its own credentials file.
 */
export const DEMO_CREDENTIALS = Object.freeze({
  username: 'demo',
  password: 'correct-horse-battery-demo',
  totpSeed: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
});
