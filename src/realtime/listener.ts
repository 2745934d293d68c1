import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { CHECK_CHANNEL, ringListener, UnheardError, unheardError } from './listen-check.js'

/** One part of the process that the LISTEN connection feeds. */
export interface ListenerConsumer {
  /** Channel name → what to do with each payload on it. */
  channels: Record<string, (payload: string) => void>
  /** Called each time LISTEN is (re-)established: notifications sent before it were lost. */
  onListen: () => void
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
  applicationName?: string
}

export interface Listener {
  start(): Promise<void>
  stop(): Promise<void>
  isListening(): boolean
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
  const handlers = new Map<string, ((payload: string) => void)[]>()
  for (const consumer of options.consumers) {
    for (const [channel, handle] of Object.entries(consumer.channels)) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handle])
    }
  }
  const checks = new Map<string, () => void>()
  handlers.set(CHECK_CHANNEL, [(payload) => checks.get(payload)?.()])
  let heardOnce = false
  let reconnects = 0
  let client: postgres.Sql | undefined
  let listening = false
  let stopped = false
  let failures = 0
  let retryTimer: NodeJS.Timeout | undefined
  let probeTimer: NodeJS.Timeout | undefined
  let probing = false

  async function connect(): Promise<void> {
    const sql = postgres(options.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 5,
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
    for (const consumer of options.consumers) consumer.onListen()
  }

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
      await Promise.race([sql`select 1`, timeout])
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
    reconnects: () => reconnects,
  }
  return listener
}
