import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Memory of the Chromium processes this process started, as the kernel
 * accounts it: PSS (proportional set size) from /proc/<pid>/smaps_rollup,
 * so pages shared between the browser, its zygotes and its renderers are
 * counted once in total rather than once per process. Linux only.
 */
export interface ChromiumMemory {
  processes: number;
  pssBytes: number;
}

interface Proc {
  pid: number;
  ppid: number;
}

function allProcesses(): Proc[] {
  const procs: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name is in parentheses and may itself hold spaces or parentheses: parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(name), ppid: Number(fields[1]) });
    } catch {
      // Gone since the listing.
    }
  }
  return procs;
}

function isChromium(pid: number): boolean {
  try {
    return /chrom/i.test(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return false;
  }
}

function pssBytes(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sums PSS over every Chromium process below `root` (default: this process), at any depth (zygotes fork the renderers). */
export function chromiumMemory(root: number = process.pid): ChromiumMemory {
  const children = new Map<number, number[]>();
  for (const p of allProcesses()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const below: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    below.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  const chromium = below.filter(isChromium);
  return { processes: chromium.length, pssBytes: chromium.reduce((sum, pid) => sum + pssBytes(pid), 0) };
}
