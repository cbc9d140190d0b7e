import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU time so far of this process (the product: recorder, CDP, HTTP) and of the Chromium processes below it. Linux only. */
export interface CpuSample {
  atMs: number;
  nodeMs: number;
  chromiumMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux.

export function sampleCpu(): CpuSample {
  const usage = process.cpuUsage();
  return { atMs: performance.now(), nodeMs: (usage.user + usage.system) / 1000, chromiumMs: chromiumCpuMs(process.pid) };
}

/** CPU used between two samples, as a share of one core. */
export function cpuShare(a: CpuSample, b: CpuSample): { node: number; chromium: number; total: number } {
  const wall = b.atMs - a.atMs;
  const node = (b.nodeMs - a.nodeMs) / wall;
  const chromium = (b.chromiumMs - a.chromiumMs) / wall;
  return { node, chromium, total: node + chromium };
}

/** utime + stime of every Chromium process below `root`. A process that exits between samples takes its time with it. */
function chromiumCpuMs(root: number): number {
  const children = new Map<number, number[]>();
  const times = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
      // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state field.
      times.set(pid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // Gone since the listing.
    }
  }
  let total = 0;
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    queue.push(...(children.get(pid) ?? []));
    if (isChromium(pid)) total += times.get(pid) ?? 0;
  }
  return total;
}

function isChromium(pid: number): boolean {
  try {
    return /chrom/i.test(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return false;
  }
}
