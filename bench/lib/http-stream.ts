import { connect, type Socket } from 'node:net'

export interface HttpStreamOptions {
  host: string
  port: number
  path: string
  headers: Record<string, string>
  timeoutMs: number
  /** The response body as it arrives, de-chunked, one latin1 character per byte. */
  onBody: (text: string) => void
  /** The connection ended after a 200 answer. */
  onClose: () => void
}

export type HttpStreamOpened = { socket: Socket; failure?: undefined } | { failure: string }

/**
 * A GET whose 200 response body is streamed to `onBody`, over a bare TCP socket. The load
 * generator holds thousands of these on the same two cores as the servers it measures, and
 * node:http's client (a parser and a second readable stream per response) cost it about as
 * much CPU per delivery as the server spends: this reads the head once, then only undoes
 * the chunked transfer encoding.
 */
export function openHttpStream(options: HttpStreamOptions): Promise<HttpStreamOpened> {
  const socket = connect({ host: options.host, port: options.port })
  socket.setNoDelay(true)
  const lines = Object.entries(options.headers).map(([name, value]) => `${name}: ${value}\r\n`)
  socket.write(
    `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\n${lines.join('')}\r\n`,
    'latin1',
  )
  return new Promise((resolve) => {
    let head = ''
    let decode: ((input: string) => string) | undefined
    let settled = false
    const settle = (outcome: HttpStreamOpened) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (outcome.failure !== undefined) socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(
      () => settle({ failure: `no answer within ${options.timeoutMs} ms` }),
      options.timeoutMs,
    )
    socket.on('error', (error) => settle({ failure: error.message }))
    socket.on('close', () => {
      if (decode) options.onClose()
      else settle({ failure: 'the connection closed before an answer' })
    })
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1')
      if (decode) {
        const body = decode(text)
        if (body) options.onBody(body)
        return
      }
      head += text
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1])
      const headers = head.slice(0, end).toLowerCase()
      const rest = head.slice(end + 4)
      const bodyOf = /\r\ntransfer-encoding:[^\r]*chunked/.test(headers)
        ? chunkedDecoder()
        : (input: string) => input
      if (status !== 200) {
        settle({ failure: `${status} ${bodyOf(rest).slice(0, 300)}` })
        return
      }
      decode = bodyOf
      settle({ socket })
      const body = decode(rest)
      if (body) options.onBody(body)
    })
  })
}

/** Undoes `Transfer-Encoding: chunked` across reads: size line, data, CRLF, repeated. */
function chunkedDecoder(): (input: string) => string {
  let pending = ''
  /** Data still to come of the current chunk; -1 while the CRLF after it is awaited. */
  let left = 0
  return (input) => {
    const text = pending === '' ? input : pending + input
    let out = ''
    let at = 0
    for (;;) {
      if (left > 0) {
        const take = Math.min(left, text.length - at)
        out += take === text.length && at === 0 ? text : text.slice(at, at + take)
        at += take
        left -= take
        if (left > 0) break
        left = -1
      }
      if (left === -1) {
        if (text.length - at < 2) break
        at += 2
        left = 0
      }
      const eol = text.indexOf('\r\n', at)
      if (eol === -1) break
      const size = Number.parseInt(text.slice(at, eol), 16)
      at = eol + 2
      if (!(size > 0)) break
      left = size
    }
    pending = at >= text.length ? '' : text.slice(at)
    return out
  }
}
