import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Db } from '../db/client.js'
import { channels, parseMessageNotice } from '../db/notify.js'
import type { ListenerConsumer } from '../realtime/listener.js'
import { encodePayload, type WebhookEvent, webhookMessageId } from './events.js'
import {
  type ClaimedLane,
  claimLanes,
  disableEndpoint,
  discoverLanes,
  followedRooms,
  readLane,
  recordDelivered,
  recordFailed,
  releaseLane,
} from './lanes.js'
import { createSender } from './send.js'
import { signatureHeader } from './signing.js'

export type WebhookSettings = Pick<
  Config,
  | 'WEBHOOK_ALLOW_PRIVATE'
  | 'WEBHOOK_TIMEOUT_MS'
  | 'WEBHOOK_CONCURRENCY'
  | 'WEBHOOK_POLL_MS'
  | 'WEBHOOK_RETRY_BASE_MS'
  | 'WEBHOOK_RETRY_MAX_MS'
  | 'WEBHOOK_DISABLE_AFTER_MS'
  | 'WEBHOOK_MAX_PAYLOAD_BYTES'
>

export interface DispatcherOptions {
  db: Db
  logger: Logger
  settings: WebhookSettings
}

export type Dispatcher = ReturnType<typeof createWebhookDispatcher>

/** Events read per page of a lane, and pages delivered per claim before the lane is let go. */
const PAGE = 50
const PAGES_PER_CLAIM = 4

/**
 * Delivers every committed change to the endpoints that follow its room, at least once and
 * in order per room and lane, from any number of instances at once. The state is the
 * database's (webhook_lanes): each instance claims lanes it has room for (at most
 * WEBHOOK_CONCURRENCY in flight), delivers them one event at a time, and moves each lane's
 * cursor in the statement that logs the attempt. A notification of a change in a followed
 * room is only a wake-up; the poll every WEBHOOK_POLL_MS finds whatever none announced (the
 * listener was down, a retry fell due, an instance died holding a lane and its lease ran
 * out, an endpoint registered since the last poll).
 */
export function createWebhookDispatcher({ db, logger, settings }: DispatcherOptions) {
  const sql = db.$client
  const sender = createSender({
    timeoutMs: settings.WEBHOOK_TIMEOUT_MS,
    allowPrivate: settings.WEBHOOK_ALLOW_PRIVATE,
    maxSockets: settings.WEBHOOK_CONCURRENCY,
  })
  // Longer than any one attempt, so a live instance always moves its lane before the lease
  // ends; an instance that dies holding one delays that lane by about this much.
  const leaseMs = settings.WEBHOOK_TIMEOUT_MS + 10_000
  let stopped = true
  let round: Promise<void> | undefined
  let again = false
  let pollTimer: NodeJS.Timeout | undefined
  const inFlight = new Set<Promise<void>>()
  // Rooms followed by some enabled endpoint, as of the last poll: a change anywhere else
  // wakes nothing, so an instance whose rooms no endpoint follows adds no query to a post.
  let followed = new Set<number>()

  /** Claims lanes now, or once the claim in progress ends: at most one claim at a time. */
  function wake(): void {
    if (stopped) return
    if (round) {
      again = true
      return
    }
    round = claimAndDeliver()
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'webhook claim failed; retrying at the next poll'),
      )
      .finally(() => {
        round = undefined
        if (again) {
          again = false
          wake()
        }
      })
  }

  async function claimAndDeliver(): Promise<void> {
    const free = settings.WEBHOOK_CONCURRENCY - inFlight.size
    if (free <= 0) return
    const lanes = await claimLanes(sql, free, leaseMs)
    for (const lane of lanes) {
      const work: Promise<void> = deliverLane(lane)
        .catch((error: unknown) =>
          logger.warn({ err: error, webhook: lane.endpointId }, 'webhook delivery failed'),
        )
        .finally(() => {
          inFlight.delete(work)
          wake()
        })
      inFlight.add(work)
    }
  }

  /** The lane's events in order, until it has none, fails, or has had its share. */
  async function deliverLane(lane: ClaimedLane): Promise<void> {
    let passed = lane.cursor
    for (let pages = 0; pages < PAGES_PER_CLAIM && !stopped; pages++) {
      const page = await readLane(db, lane, passed, PAGE)
      for (const event of page.events) {
        if (stopped) break
        if (!event.type || !lane.events.includes(event.type)) {
          passed = event.cursor
          continue
        }
        const kept = await deliverEvent(lane, event, passed)
        if (!kept) return
        passed = event.cursor
        lane.attempts = 0
      }
      if (stopped) break
      passed = Math.max(passed, page.through)
      if (page.events.length < PAGE) break
    }
    await releaseLane(sql, lane, passed)
  }

  /** One attempt; true when the lane moved past the event and is still this claim's. */
  async function deliverEvent(lane: ClaimedLane, event: WebhookEvent, passed: number): Promise<boolean> {
    const messageId = webhookMessageId(lane.endpointId, lane.roomId, lane.lane, event.cursor)
    const body = encodePayload(event.payload, settings.WEBHOOK_MAX_PAYLOAD_BYTES)
    const timestamp = Math.floor(Date.now() / 1000)
    const attempt = await sender.post(new URL(lane.url), body, {
      'user-agent': 'Parley-Webhooks',
      'webhook-id': messageId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(lane.secrets, messageId, timestamp, body),
    })
    const record = {
      messageId,
      type: event.payload.type,
      attempt: lane.attempts + 1,
      status: attempt.status,
      latencyMs: attempt.latencyMs,
      error: attempt.error,
    }
    if (attempt.error === null) return recordDelivered(sql, lane, event.cursor, leaseMs, record)
    const retryInMs = Math.max(
      backoff(record.attempt),
      Math.min(attempt.retryAfterMs ?? 0, settings.WEBHOOK_RETRY_MAX_MS),
    )
    const exhausted = await recordFailed(
      sql,
      lane,
      passed,
      retryInMs,
      settings.WEBHOOK_DISABLE_AFTER_MS,
      record,
    )
    // Standard Webhooks: 410 Gone says the receiver wants no more.
    if (attempt.status === 410 || exhausted) {
      const reason =
        attempt.status === 410
          ? 'the endpoint answered 410 Gone'
          : `every delivery failed for ${settings.WEBHOOK_DISABLE_AFTER_MS} ms; last: ${attempt.error}`
      if (await disableEndpoint(sql, lane.endpointId, reason)) {
        logger.warn({ webhook: lane.endpointId, reason }, 'webhook endpoint disabled')
      }
    }
    return false
  }

  /** Exponential: the base, doubled each attempt, capped, with ±20% jitter so retries spread. */
  function backoff(attempt: number): number {
    const delay = Math.min(settings.WEBHOOK_RETRY_MAX_MS, settings.WEBHOOK_RETRY_BASE_MS * 2 ** (attempt - 1))
    return delay * (0.8 + Math.random() * 0.4)
  }

  async function poll(): Promise<void> {
    try {
      await discoverLanes(sql)
      followed = await followedRooms(sql)
    } catch (error) {
      logger.warn({ err: error }, 'webhook lane discovery failed')
    }
    wake()
  }

  /** A room's doorbell (`<room_id>:<cursor>`, on either channel): a claim, if the room is followed. */
  function onChange(payload: string): void {
    const notice = parseMessageNotice(payload)
    if (notice && followed.has(notice.roomId)) wake()
  }

  const listens: ListenerConsumer = {
    channels: { [channels.messages]: onChange, [channels.roomLog]: onChange },
    onListen: wake,
  }

  return {
    listens,
    /** Starts claiming: now, on every change announced, and every WEBHOOK_POLL_MS. */
    start(): void {
      stopped = false
      pollTimer = setInterval(() => void poll(), settings.WEBHOOK_POLL_MS)
      pollTimer.unref()
      void poll()
    },
    /**
     * Stops claiming, lets the attempts in flight end (each within WEBHOOK_TIMEOUT_MS) and
     * lets their lanes go, so another instance takes them at once.
     */
    async stop(): Promise<void> {
      stopped = true
      clearInterval(pollTimer)
      await round
      await Promise.all([...inFlight])
      sender.close()
    },
    /** Lanes being delivered by this instance now. */
    inFlight: () => inFlight.size,
  }
}
