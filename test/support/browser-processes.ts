import { readdirSync, readFileSync } from 'node:fs';

/**
 * Main Chromium processes whose command line carries `marker` (a switch Chromium ignores), found
 * in /proc; renderers and helpers carry --type= and are left out. Lets a test count and kill
 * exactly its own browser.
 */
export function markedBrowserPids(marker: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return args.includes(marker) && !args.some((arg) => arg.startsWith('--type='));
      } catch {
        return false;
      }
    })
    .map(Number);
}
