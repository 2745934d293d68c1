import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ReadPool } from './db/read-pool.js'
import type { Hub } from './realtime/hub.js'
import type { Listener } from './realtime/listener.js'
import type { Streams } from './realtime/streams.js'

interface Sources {
  hub: Pick<Hub, 'stats' | 'topRooms'>
  streams: Pick<Streams, 'stats'>
  listener: Pick<Listener, 'isListening' | 'reconnects'>
  reads: Pick<ReadPool, 'stats'>
}

interface Readings {
  hub: ReturnType<Hub['stats']>
  streams: ReturnType<Streams['stats']>
  listener: { listening: boolean; reconnects: number }
}

/**
 * The Prometheus registry of one Parley instance. The realtime figures are read when
 * scraped, so the delivery path only pays for the lag histogram, once per message.
 */
export function createMetrics(getSources: () => Sources, { readReplicas = false } = {}) {
  const read = (): Readings => {
    const { hub, streams, listener } = getSources()
    return {
      hub: hub.stats(),
      streams: streams.stats(),
      listener: { listening: listener.isListening(), reconnects: listener.reconnects() },
    }
  }
  const readHub = () => read().hub
  const registry = new Registry()
  const counterOf = (name: string, help: string, pick: (readings: Readings) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(pick(read()))
      },
    })

  new Gauge({
    name: 'parley_open_streams',
    help: 'Open SSE streams on this instance',
    registers: [registry],
    collect() {
      this.set(readHub().subscribers)
    },
  })
  new Gauge({
    name: 'parley_room_streams',
    help: 'Open streams of the busiest public rooms (top 10 only, to bound cardinality)',
    labelNames: ['room_id'],
    registers: [registry],
    collect() {
      this.reset()
      for (const { roomId, subscribers } of getSources().hub.topRooms(10))
        this.set({ room_id: String(roomId) }, subscribers)
    },
  })
  new Gauge({
    name: 'parley_listener_up',
    help: '1 while the LISTEN connection is established',
    registers: [registry],
    collect() {
      this.set(read().listener.listening ? 1 : 0)
    },
  })
  counterOf(
    'parley_notifications_total',
    'Notifications received on the LISTEN connection',
    (r) => r.hub.notifications,
  )
  counterOf(
    'parley_messages_delivered_total',
    'Message frames written to subscribers',
    (r) => r.hub.delivered,
  )
  counterOf(
    'parley_listener_reconnects_total',
    'Times the LISTEN connection was lost',
    (r) => r.listener.reconnects,
  )
  counterOf(
    'parley_notifications_refused_total',
    'Room event notifications dropped because they were not in a shape Parley publishes',
    (r) => r.hub.refused,
  )
  counterOf(
    'parley_slow_subscribers_dropped_total',
    'Streams closed because their buffer overflowed',
    (r) => r.streams.dropped,
  )

  if (readReplicas) registerReplicaMetrics(registry, () => getSources().reads.stats())

  const deliveryLag = new Histogram({
    name: 'parley_delivery_lag_seconds',
    help: 'From the inserting transaction’s start (created_at) to the write to subscribers',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const httpDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request durations (streams: until the stream starts)',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })

  return {
    registry,
    observeDeliveryLag: (seconds: number) => deliveryLag.observe(seconds),
    observeRequest: (method: string, route: string, status: number, seconds: number) =>
      httpDuration.observe({ method, route, status: String(status) }, seconds),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/** The read replicas' figures (READ_DATABASE_URL), read from the read pool when scraped. */
function registerReplicaMetrics(registry: Registry, stats: () => ReturnType<ReadPool['stats']>) {
  const perReplica = (name: string, help: string, pick: (replica: ReplicaStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['replica'],
      registers: [registry],
      collect() {
        this.reset()
        for (const replica of stats().replicas) this.set({ replica: replica.name }, pick(replica))
      },
    })
  perReplica(
    'parley_replica_up',
    '1 while the standby (its place in READ_DATABASE_URL) answers its probe',
    (r) => (r.up ? 1 : 0),
  )
  perReplica(
    'parley_replica_lag_seconds',
    'At the last probe: 0 if the standby had replayed all it received, else the age of the last transaction it replayed',
    (r) => r.lagSeconds,
  )
  perReplica(
    'parley_replica_lag_bytes',
    'At the last probe: WAL the primary had written that the standby had not yet replayed',
    (r) => r.lagBytes,
  )
  new Counter({
    name: 'parley_replica_reads_total',
    help: 'Reads served by a standby',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(stats().served)
    },
  })
  new Counter({
    name: 'parley_replica_fallbacks_total',
    help: "Reads a standby could have served that went to the primary: behind (it had not reached the client's position or the lag bound), down, conflict (cancelled by replay)",
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(stats().fallbacks)) this.inc({ reason }, count)
    },
  })
}

type ReplicaStats = ReturnType<ReadPool['stats']>['replicas'][number]
