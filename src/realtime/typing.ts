import type { Logger } from 'pino'
import type { StreamEventData } from '../wire.js'

type Typing = StreamEventData<'typing'>

interface Typist {
  /** When the last frame was announced, in epoch ms. */
  sentAt: number
  sent: Typing['state']
  /** The newest state asked for inside the interval, announced when it ends. */
  pending?: Typing
  timer?: NodeJS.Timeout
}

const MAX_TYPISTS = 100_000

/**
 * At most one typing frame per typist and room per `throttleMs`, whatever the sequence of
 * requests: each costs a NOTIFY and a frame on every stream of the room on every instance.
 * A change asked for inside the interval is not lost but announced when the interval ends
 * (the newest state wins), so an indicator never sticks at "on". Per instance on purpose:
 * it only shapes traffic and holds nothing another instance needs.
 */
export function createTypingThrottle(options: {
  throttleMs: number
  announce: (typing: Typing) => Promise<void>
  logger: Logger
}) {
  const typists = new Map<string, Typist>()

  function send(typist: Typist, typing: Typing): void {
    typist.sentAt = Date.now()
    typist.sent = typing.state
    options.announce(typing).catch((error: unknown) => options.logger.warn({ err: error }, 'typing failed'))
  }

  function flushPending(typist: Typist): void {
    typist.timer = undefined
    const typing = typist.pending
    typist.pending = undefined
    // An "on" goes out even after an "on": a message from the typist cleared the indicator meanwhile.
    if (typing && (typing.state === 'on' || typist.sent === 'on')) send(typist, typing)
  }

  return function offer(typing: Typing): void {
    const key = `${typing.room_id}:${typing.user_id}`
    const typist = typists.get(key)
    if (!typist) {
      if (typing.state === 'off') return
      if (typists.size >= MAX_TYPISTS) forgetIdle()
      const fresh: Typist = { sentAt: 0, sent: 'off' }
      typists.set(key, fresh)
      send(fresh, typing)
      return
    }
    const wait = typist.sentAt + options.throttleMs - Date.now()
    if (wait <= 0 && !typist.timer) {
      if (typing.state === 'on' || typist.sent === 'on') send(typist, typing)
      return
    }
    typist.pending = typing
    if (!typist.timer) {
      typist.timer = setTimeout(() => flushPending(typist), Math.max(wait, 0))
      typist.timer.unref()
    }
  }

  /** Forgets typists whose interval is over and who wait for nothing. */
  function forgetIdle(): void {
    const now = Date.now()
    for (const [key, typist] of typists) {
      if (!typist.timer && now - typist.sentAt >= options.throttleMs) typists.delete(key)
    }
  }
}
