import { AppError, isExecutableFile } from '../core/index.js';

/** Where distributions put Chromium or Chrome; the first executable one wins. */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

const INSTALL_HINT = 'install it (apt-get install -y chromium on Debian or Ubuntu) or set CHROMIUM_PATH to its executable';

/**
 * The Chromium executable browser sessions run: `CHROMIUM_PATH` when set (it must be an
 * executable file: a wrong path is an error, never a silent fallback), else the first of
 * {@link CHROMIUM_CANDIDATES}. The product never downloads a browser.
 */
export function findChromium(configured: string | undefined, candidates: readonly string[] = CHROMIUM_CANDIDATES): string {
  if (configured !== undefined && configured.trim() !== '') {
    if (isExecutableFile(configured)) return configured;
    throw new AppError('browser_unavailable', {
      publicMessage: `CHROMIUM_PATH (${configured}) is not an executable file; ${INSTALL_HINT}.`,
      detail: `CHROMIUM_PATH=${configured} is not an executable file`,
    });
  }
  const found = candidates.find(isExecutableFile);
  if (found !== undefined) return found;
  throw new AppError('browser_unavailable', {
    publicMessage: `No Chromium was found on this machine; ${INSTALL_HINT}.`,
    detail: `none of ${candidates.join(', ')} is an executable file`,
  });
}
