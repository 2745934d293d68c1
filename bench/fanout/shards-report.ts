import type { BenchResults } from './report.js'
import type { CeilingVariant } from './shards.js'
import type { DeliveryPoint } from './shard-delivery.js'
import type { MovePoint } from './shard-move.js'
import type { ServerFanoutPoint, ServerPostingPoint } from './shard-server.js'
import { type Column, table } from './text-table.js'

const fixed = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits)
const percent = (value: number | undefined, digits = 0) =>
  value === undefined ? '–' : `${fixed(value, digits)}%`

const CEILING_COLUMNS: Column<CeilingVariant>[] = [
  ['instances', (v) => String(v.instances)],
  ['notify', (v) => (v.notify ? 'on' : 'off')],
  ['LISTEN', (v) => String(v.listeners)],
  ['inserts/s', (v) => fixed(v.perSecond)],
  ['each round', (v) => v.samples.map((s) => fixed(s)).join(', ')],
  ['PostgreSQL CPU', (v) => percent(v.postgresCpuPercent)],
  [
    'its µs/insert',
    (v) =>
      v.postgresCpuPercent === undefined ? '–' : fixed((v.postgresCpuPercent / 100 / v.perSecond) * 1e6),
  ],
  ['load CPU', (v) => percent(v.loadCpuPercent)],
  ['heard/insert', (v) => fixed(v.heardPerInsert, 2)],
]

const DELIVERY_COLUMNS: Column<DeliveryPoint>[] = [
  ['instances', (p) => String(p.instances)],
  ['asked/s', (p) => String(p.rate)],
  ['received/s', (p) => fixed(p.received)],
  ['listener CPU', (p) => percent(p.cpuPercent, 1)],
  ['per 1,000/s', (p) => percent(p.cpuPerThousand, 2)],
]

const MOVE_COLUMNS: Column<MovePoint>[] = [
  ['messages', (p) => String(p.messages)],
  ['rows copied', (p) => String(p.rows)],
  ['writes paused ms', (p) => fixed(p.pauseMs)],
  ["writer's longest insert ms", (p) => fixed(p.writerMaxMs)],
  ['writes before', (p) => String(p.writes)],
]

/** Which round, and whether the rooms were on one shard or on two. */
const placed = <P extends { round: number; shards: 1 | 2 }>(): Column<P>[] => [
  ['round', (p) => String(p.round)],
  ['rooms on', (p) => `${p.shards} shard${p.shards === 1 ? '' : 's'}`],
]

const SERVER_COLUMNS: Column<ServerPostingPoint>[] = [
  ...placed<ServerPostingPoint>(),
  ['clients', (p) => String(p.clients)],
  ['posts/s', (p) => fixed(p.requestsPerSecond)],
  ['p99 ms', (p) => fixed(p.p99Ms)],
  ['server CPU', (p) => percent(p.serverCpuPercent)],
  ['failed', (p) => String(p.failed)],
]

const FANOUT_COLUMNS: Column<ServerFanoutPoint>[] = [
  ...placed<ServerFanoutPoint>(),
  ['streams', (p) => String(p.streams)],
  ['posts', (p) => String(p.posts)],
  ['deliveries/s', (p) => fixed(p.deliveredPerSecond)],
  ['p50 ms', (p) => fixed(p.latencyMs.p50)],
  ['p99 ms', (p) => fixed(p.latencyMs.p99)],
  ['missing', (p) => String(p.missing)],
]

/** The shards scenario: the NOTIFY ceiling on one instance and two, and the listening process's CPU. */
export function shardsSection({ shards }: BenchResults): string[] {
  if (!shards) return []
  const lines: string[] = []
  const { ceiling, delivery, moves, server } = shards
  if (ceiling) {
    lines.push(
      `Shards, ceiling: ${ceiling.clients} clients of single-row inserts through the triggers, ${ceiling.rooms} rooms per instance,` +
        ` a LISTEN connection on each; median of ${shards.rounds} × ${ceiling.seconds} s, interleaved`,
      table(CEILING_COLUMNS, ceiling.variants),
      `  two instances ÷ one: ${fixed(ceiling.ratio, 2)}× with notify, ${fixed(ceiling.ratioWithoutNotify, 2)}× without;` +
        ` NOTIFY takes ${percent((ceiling.notifyShare ?? Number.NaN) * 100)} of one instance's ceiling;` +
        ` ${fixed(ceiling.listenersRatio, 2)}× with more LISTEN connections`,
      '  both instances share this machine: the ratio is a lower bound of separate machines',
    )
  }
  if (delivery) {
    if (lines.length > 0) lines.push('')
    lines.push(
      `Shards, delivery: one process listening on one instance, then two, the rate split evenly; ${delivery.seconds} s each`,
      table(DELIVERY_COLUMNS, delivery.points),
    )
  }
  if (moves) {
    if (lines.length > 0) lines.push('')
    lines.push(
      'Shards, moving a room from one instance to the other while a writer inserts into it every 5 ms',
      table(MOVE_COLUMNS, moves),
    )
  }
  if (server) {
    if (lines.length > 0) lines.push('')
    lines.push(
      'Shards, HTTP posting through one Parley process over both instances (CATALOG_DATABASE_URL): the same load to rooms on one shard, then on two',
      table(SERVER_COLUMNS, server.points),
      `  rooms on two shards ÷ on one: ${fixed(server.ratio, 2)}× (medians)`,
      '',
      'Shards, fan-out through the same process: streams on the rooms, 100 posts/s over HTTP spread over them',
      table(FANOUT_COLUMNS, server.fanout),
    )
  }
  return lines
}
