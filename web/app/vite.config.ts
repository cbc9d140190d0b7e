// The web UI's build (issue 8): a Preact single-page app bundled into web/app/dist, served by the
// product under /ui/ (src/http/routes/web-ui.ts). Everything is bundled: no CDN, no inline script or
// style (the product's CSP forbids both), no asset inlined as a data: URL.
import { gzipSync } from 'node:zlib';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

/** Initial JavaScript of the UI, gzip, that the build reports (issue 8: goal ≤ 150 kB). */
export const INITIAL_JS_BUDGET_BYTES = 150 * 1024;

/** Prints the gzip size of the JavaScript the first page load needs (the entry and its static imports). */
function bundleSizeReport(): Plugin {
  return {
    name: 'webasset-bundle-size',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((item) => item.type === 'chunk');
      const entries = chunks.filter((chunk) => chunk.isEntry);
      const initial = new Set<string>();
      const visit = (name: string) => {
        if (initial.has(name)) return;
        initial.add(name);
        const chunk = chunks.find((c) => c.fileName === name);
        chunk?.imports.forEach(visit);
      };
      entries.forEach((entry) => visit(entry.fileName));
      let gzip = 0;
      for (const name of initial) {
        const chunk = chunks.find((c) => c.fileName === name);
        if (chunk) gzip += gzipSync(chunk.code, { level: 9 }).length;
      }
      const kb = (gzip / 1024).toFixed(1);
      const verdict = gzip <= INITIAL_JS_BUDGET_BYTES ? 'within' : 'OVER';
      this.info(`initial JavaScript: ${kb} kB gzip (${initial.size} file${initial.size === 1 ? '' : 's'}; budget ${INITIAL_JS_BUDGET_BYTES / 1024} kB: ${verdict})`);
      if (gzip > INITIAL_JS_BUDGET_BYTES) this.warn(`initial JavaScript is over the ${INITIAL_JS_BUDGET_BYTES / 1024} kB gzip budget`);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [preact({ prerender: { enabled: false } }), bundleSizeReport()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Nothing becomes a data: URL or an inline block: the CSP allows only files from this origin.
    assetsInlineLimit: 0,
    // The polyfill is for browsers older than the ones the UI supports.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: 'info',
});
