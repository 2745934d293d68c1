import { readFileSync } from 'node:fs'

/** The resident set size of process `pid` in bytes (Linux /proc), or undefined once it is gone. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

export interface RssMonitor {
  /** The highest RSS seen so far, in bytes. */
  peak(): number
  /** The most recent sample, in bytes. */
  last(): number
  stop(): void
}

/** Samples a process's RSS every `intervalMs` and keeps the peak. */
export function monitorRss(pid: number, intervalMs = 1_000): RssMonitor {
  let peak = 0
  let last = 0
  const sample = () => {
    const rss = readRssBytes(pid)
    if (rss === undefined) return
    last = rss
    if (rss > peak) peak = rss
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  timer.unref()
  return {
    peak: () => peak,
    last: () => last,
    stop: () => clearInterval(timer),
  }
}

/** The soft limit on open files of this process (Linux /proc), or undefined if unknown. */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1]
    return soft === undefined ? undefined : Number(soft)
  } catch {
    return undefined
  }
}
