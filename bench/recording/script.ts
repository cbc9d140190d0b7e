import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrowserSession, InputEvent } from '../../src/browser/index.js';

/**
 * What an operator does in the demo portal, again and again for `seconds`: read the
 * accounts page and scroll it, open the transfer form and type an IBAN and an amount
 * key by key, go to the home page. Driven through the governed session handle (as the
 * live view does), so the page's own input events reach the recording.
 */
export async function operatorScript(browser: BrowserSession, portalUrl: string, seconds: number): Promise<{ cycles: number; actions: number }> {
  const deadline = performance.now() + seconds * 1000;
  let cycles = 0;
  let actions = 0;
  const input = async (event: InputEvent) => {
    await browser.input(event);
    actions += 1;
  };
  const key = async (k: string) => {
    await input({ type: 'key', action: 'down', key: k });
    await input({ type: 'key', action: 'up', key: k });
  };
  const type = async (text: string) => {
    for (const ch of text) {
      if (performance.now() > deadline) return;
      await key(ch);
      await sleep(180);
    }
  };
  const steps: Array<() => Promise<unknown>> = [
    () => browser.navigate(`${portalUrl}/accounts`),
    () => sleep(2500),
    () => input({ type: 'wheel', x: 640, y: 360, deltaX: 0, deltaY: 300 }),
    () => sleep(1200),
    () => input({ type: 'wheel', x: 640, y: 360, deltaX: 0, deltaY: -300 }),
    () => sleep(1200),
    () => input({ type: 'mouse', action: 'move', x: 200, y: 300 }),
    // The fragment sets the focus navigation start at #to: Tab moves into the amount field.
    () => browser.navigate(`${portalUrl}/transfer#to`),
    () => sleep(1500),
    () => key('Tab'),
    () => type('125.50'),
    () => sleep(800),
    () => input({ type: 'text', text: ' EUR' }),
    () => sleep(1500),
    () => browser.navigate(`${portalUrl}/`),
    () => sleep(2500),
  ];
  while (performance.now() < deadline && !browser.closed) {
    for (const step of steps) {
      if (performance.now() >= deadline || browser.closed) break;
      await step();
    }
    cycles += 1;
  }
  return { cycles, actions };
}
