import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type postgres from 'postgres'

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** The fields of /proc/<pid>/stat after the command name: [state, ppid, …]. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** CPU seconds (user + system) process `pid` has used; with `children`, also its reaped children's. */
export function cpuSeconds(pid: number, children = false): number | undefined {
  const fields = statFields(pid)
  if (!fields) return undefined
  // utime, stime, cutime, cstime are fields 14–17 of stat, 11–14 here.
  const ticks = Number(fields[11]) + Number(fields[12])
  const reaped = children ? Number(fields[13]) + Number(fields[14]) : 0
  return (ticks + reaped) / CLOCK_TICKS
}

/**
 * CPU seconds used by a whole PostgreSQL cluster: the postmaster with every backend it has
 * reaped, plus the backends alive now. Undefined when the server is not on this machine or
 * its data directory cannot be read.
 */
export async function postgresCpuMeter(sql: postgres.Sql): Promise<(() => number | undefined) | undefined> {
  try {
    const [row] = await sql<
      { setting: string }[]
    >`select setting from pg_settings where name = 'data_directory'`
    const pidLine = row ? readFileSync(join(row.setting, 'postmaster.pid'), 'utf8').split('\n')[0] : undefined
    const postmaster = Number(pidLine)
    if (!Number.isInteger(postmaster) || cpuSeconds(postmaster) === undefined) return undefined
    return () => {
      let total = cpuSeconds(postmaster, true)
      if (total === undefined) return undefined
      for (const entry of readdirSync('/proc')) {
        const pid = Number(entry)
        if (!Number.isInteger(pid) || pid === postmaster) continue
        const fields = statFields(pid)
        if (fields && Number(fields[1]) === postmaster)
          total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
      }
      return total
    }
  } catch {
    return undefined
  }
}

/** CPU use between two readings in percent of one core, or undefined if either is missing. */
export function cpuPercent(before: number | undefined, after: number | undefined, seconds: number) {
  return before === undefined || after === undefined ? undefined : ((after - before) / seconds) * 100
}
