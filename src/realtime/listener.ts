import { randomBytes, randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { channels, encodeHeartbeat, parseHeartbeat } from '../db/notify.js'
import { primaryOnly, rotateHosts } from '../db/url.js'
import { CHECK_CHANNEL, ringListener, UnheardError, unheardError } from './listen-check.js'

/** One part of the process that the LISTEN connection feeds. */
export interface ListenerConsumer {
  /** Channel name → what to do with each payload on it. */
  channels: Record<string, (payload: string) => void>
  /**
   * Called each time LISTEN is (re-)established: notifications sent before it were lost.
   * `newHistory` is true when the server is not the one last listened to, or has since
   * started a new timeline (a standby was promoted, a backup restored): what was read
   * before may be missing there, so cursors handed out may name other changes.
   */
  onListen: (newHistory: boolean) => void
}

export interface ListenerOptions {
  url: string
  /** Everything fed by this connection; a channel may feed several of them. */
  consumers: ListenerConsumer[]
  onDown: (error: Error) => void
  /** How often the connection is probed, and how long a probe may take before it counts as dead. */
  probeMs: number
  probeTimeoutMs?: number
  /** How long the first LISTEN may take to hear its own test notification. */
  checkTimeoutMs?: number
  /**
   * The pool, through which the listener sends itself a heartbeat each probe: the path every
   * real notification takes, committed on the primary the pool reaches. A listener on a
   * server nobody writes to any more (an old primary cut off, after failover) hears nothing
   * and says nothing; without hearing its own heartbeat it knows.
   */
  pool?: postgres.Sql
  /** Probes in a row without its own heartbeat before the connection counts as stale (default 3). */
  staleProbes?: number
  applicationName?: string
}

export interface Listener {
  start(): Promise<void>
  stop(): Promise<void>
  isListening(): boolean
  /** Listening, on a primary, and hearing its own heartbeat: what readiness reports. */
  isReady(): boolean
  /** Whether the server last reached was in recovery (a standby, where LISTEN is refused). */
  inRecovery(): boolean
  /** Times the connection was lost after listening. */
  reconnects(): number
}

const MAX_BACKOFF_MS = 5_000

/**
 * Owns the process's one LISTEN connection. postgres.js's own `sql.listen` re-listens after
 * a drop but gives up silently if the database is still down at that moment, so this
 * keeps the lifecycle itself: a dedicated one-connection client, reconnection with
 * backoff, and a periodic probe, because a half-open socket is only noticed when TCP
 * gives up, many minutes later. The first LISTEN must also hear a notification sent to it,
 * or start() fails: through a transaction-mode pooler LISTEN succeeds and hears nothing.
 */
export function createListener(options: ListenerOptions): Listener {
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(options.probeMs, 3_000)
  const staleMs = (options.staleProbes ?? 3) * options.probeMs
  const handlers = new Map<string, ((payload: string) => void)[]>()
  for (const consumer of options.consumers) {
    for (const [channel, handle] of Object.entries(consumer.channels)) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handle])
    }
  }
  // Every instance's heartbeats arrive on the one channel; each listener keeps only its own.
  const id = randomBytes(16).toString('hex')
  let beats = 0
  let beating = false
  let heardAt = 0
  let recovery = false
  if (options.pool) {
    handlers.set(channels.heartbeat, [
      (payload) => {
        const beat = parseHeartbeat(payload)
        if (beat?.listenerId === id && beat.n <= beats) heardAt = Date.now()
      },
    ])
  }
  let attempts = 0
  const checks = new Map<string, () => void>()
  handlers.set(CHECK_CHANNEL, [(payload) => checks.get(payload)?.()])
  let heardOnce = false
  /** The history (cluster and timeline) of the server listened to last, and of the one being connected. */
  let history: string | undefined
  let connectedHistory: string | undefined
  let reconnects = 0
  let client: postgres.Sql | undefined
  let listening = false
  let stopped = false
  let failures = 0
  let retryTimer: NodeJS.Timeout | undefined
  let probeTimer: NodeJS.Timeout | undefined
  let probing = false

  async function connect(): Promise<void> {
    // Each attempt starts at another host, so a host that swallows packets cannot hold it.
    const url = rotateHosts(options.url, attempts++)
    const sql = postgres(url, {
      ...primaryOnly(url),
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 3,
      onnotice: () => {},
      connection: { application_name: options.applicationName ?? 'parley-listener' },
      onclose: () => {
        if (client === sql) lose(new Error('listener connection closed'))
      },
      // Not in postgres.js's published types, but it is how its own listen() receives notifications.
      onnotify: (channel: string, payload: string) => {
        for (const handle of handlers.get(channel) ?? []) handle(payload)
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>)
    client = sql
    try {
      // LISTEN is refused during recovery; asked first, a standby is reported as one. A
      // primary's history is its cluster's identifier and the timeline it writes, read from
      // the name of its current WAL file: a promotion starts a new one there at once, where
      // pg_control_checkpoint() waits for a checkpoint. Any role may read both.
      const [state] = await sql<{ in_recovery: boolean; history: string | null }[]>`
        select pg_is_in_recovery() as in_recovery,
               case when pg_is_in_recovery() then null
               else (select system_identifier::text from pg_control_system())
                    || '/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) end as history`
      recovery = state?.in_recovery === true
      if (recovery) throw new Error('the listener reached a standby, which cannot LISTEN')
      connectedHistory = state?.history ?? undefined
      for (const channel of handlers.keys()) {
        await sql.unsafe(`listen "${channel.replace(/"/g, '""')}"`)
      }
    } catch (error) {
      if (client === sql) lose(error instanceof Error ? error : new Error(String(error)))
      throw error
    }
    if (client !== sql) return
    if (!heardOnce) {
      try {
        await hearSelf()
      } catch (error) {
        if (client === sql) lose(error instanceof Error ? error : new Error(String(error)))
        throw error
      }
      heardOnce = true
      if (client !== sql) return
    }
    listening = true
    failures = 0
    heardAt = Date.now()
    sendHeartbeat()
    const newHistory = history !== undefined && connectedHistory !== history
    history = connectedHistory
    for (const consumer of options.consumers) consumer.onListen(newHistory)
  }

  /** Not awaited, and one at a time: the pool may wait for a primary during a failover. */
  function sendHeartbeat(): void {
    const pool = options.pool
    if (!pool || beating) return
    beating = true
    const payload = encodeHeartbeat(id, ++beats)
    pool`select pg_notify(${channels.heartbeat}, ${payload})`.then(
      () => (beating = false),
      () => (beating = false),
    )
  }

  const isStale = () => options.pool !== undefined && Date.now() - heardAt > staleMs

  async function hearSelf(): Promise<void> {
    const waitMs = options.checkTimeoutMs ?? 3_000
    const token = randomUUID()
    let timer: NodeJS.Timeout | undefined
    const heard = new Promise<boolean>((resolve) => {
      checks.set(token, () => resolve(true))
      timer = setTimeout(() => resolve(false), waitMs)
    })
    try {
      await ringListener(options.url, token)
      if (!(await heard)) throw unheardError(options.url, waitMs)
    } finally {
      clearTimeout(timer)
      checks.delete(token)
    }
  }

  function lose(error: Error): void {
    const sql = client
    client = undefined
    const wasListening = listening
    listening = false
    sql?.end({ timeout: 0 }).catch(() => {})
    if (wasListening) {
      reconnects++
      options.onDown(error)
    }
    scheduleReconnect()
  }

  function scheduleReconnect(): void {
    if (stopped || retryTimer) return
    const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures++)
    retryTimer = setTimeout(
      () => {
        retryTimer = undefined
        connect().catch(() => {})
      },
      backoff / 2 + Math.random() * (backoff / 2),
    )
  }

  async function probe(): Promise<void> {
    const sql = client
    if (!sql || !listening || probing) return
    probing = true
    let timer: NodeJS.Timeout | undefined
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('listener probe timed out')), probeTimeoutMs)
      })
      const [state] = await Promise.race([
        sql<{ in_recovery: boolean }[]>`select pg_is_in_recovery() as in_recovery`,
        timeout,
      ])
      recovery = state?.in_recovery === true
      if (recovery) throw new Error('the listener server is in recovery: it hears no notifications')
      if (isStale()) throw new Error(`the listener heard none of its own heartbeats for ${staleMs} ms`)
      sendHeartbeat()
    } catch (error) {
      if (client === sql) lose(error instanceof Error ? error : new Error(String(error)))
    } finally {
      clearTimeout(timer)
      probing = false
    }
  }

  const listener: Listener = {
    async start() {
      stopped = false
      probeTimer = setInterval(() => void probe(), options.probeMs)
      probeTimer.unref()
      await connect().catch(async (error: unknown) => {
        // lose() has scheduled the retry; start() succeeds and readiness reports the state,
        // unless the connection works but hears nothing, which no retry mends.
        if (error instanceof UnheardError) {
          await listener.stop()
          throw error
        }
      })
    },
    async stop() {
      stopped = true
      clearInterval(probeTimer)
      clearTimeout(retryTimer)
      retryTimer = undefined
      const sql = client
      client = undefined
      listening = false
      await sql?.end({ timeout: 1 })
    },
    isListening: () => listening,
    isReady: () => listening && !recovery && !isStale(),
    inRecovery: () => recovery,
    reconnects: () => reconnects,
  }
  return listener
}
