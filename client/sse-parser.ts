/** One dispatched Server-Sent Event. `id` is set only when the frame itself carried one. */
export interface SseEvent {
  event: string
  data: string
  id?: string
}

export interface SseParserHandlers {
  event(event: SseEvent): void
  /** A `retry:` field: the server's suggested reconnection delay. */
  retry?(ms: number): void
  /** Anything at all arrived: a frame, a field, a `: ping` comment. */
  activity?(): void
}

/**
 * An incremental parser of the `text/event-stream` format as the HTML standard defines it:
 * lines end in CRLF, LF or CR (a CR at the end of one chunk may meet its LF in the next),
 * `:` starts a comment, a field without a colon has an empty value, one leading space of a
 * value is dropped, `data` lines are joined with LF, and a blank line dispatches the event
 * unless it has no data. An `id` holding NUL is ignored. Feed it decoded text.
 */
export function createSseParser(handlers: SseParserHandlers) {
  let buffer = ''
  let started = false
  let pendingCr = false
  let data: string[] = []
  let eventName = ''
  let id: string | undefined

  function dispatch() {
    if (data.length > 0) {
      const event: SseEvent = { event: eventName || 'message', data: data.join('\n') }
      if (id !== undefined) event.id = id
      handlers.event(event)
    }
    data = []
    eventName = ''
    id = undefined
  }

  function line(text: string) {
    if (text === '') return dispatch()
    if (text.startsWith(':')) return
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') eventName = value
    else if (field === 'id' && !value.includes('\0')) id = value
    else if (field === 'retry' && /^[0-9]+$/.test(value)) handlers.retry?.(Number(value))
  }

  return {
    feed(chunk: string) {
      if (chunk === '') return
      handlers.activity?.()
      let text = chunk
      if (!started) {
        started = true
        if (text.startsWith('\uFEFF')) text = text.slice(1)
      }
      if (pendingCr && text.startsWith('\n')) text = text.slice(1)
      pendingCr = false
      buffer += text
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer[i]
        if (char !== '\n' && char !== '\r') continue
        line(buffer.slice(start, i))
        if (char === '\r') {
          if (i + 1 === buffer.length) pendingCr = true
          else if (buffer[i + 1] === '\n') i++
        }
        start = i + 1
      }
      buffer = buffer.slice(start)
    },
  }
}
