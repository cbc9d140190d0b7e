import { useEffect, useState } from 'preact/hooks';

/**
 * Seconds left until `until` (epoch ms), re-rendered every second; 0 once it has passed or when there
 * is none. Computed at each render from the clock, so it is never a stale 0 before the first tick.
 */
export function useSecondsLeft(until: number | null): number {
  const [, setTick] = useState(0);
  const left = until === null ? 0 : Math.max(0, Math.ceil((until - Date.now()) / 1000));
  useEffect(() => {
    if (until === null) return;
    const timer = window.setInterval(() => {
      setTick((n) => n + 1);
      if (Date.now() >= until) window.clearInterval(timer);
    }, 1000);
    return () => window.clearInterval(timer);
  }, [until]);
  return left;
}
