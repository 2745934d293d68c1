import type { ServerResponse } from 'node:http'
import type { HistoryChange } from '../chat/changes.js'
import type { HistoryEventName, StreamEventData, StreamEventName } from '../wire.js'

export const PING_FRAME = Buffer.from(': ping\n\n')

const LINE_BREAK = /[\r\n]/

/**
 * Every frame of every stream is built here. `id` and `event` are one line each and
 * refused if they hold a line break; `data` is split on line breaks into `data:` lines, as
 * the SSE parser joins them back. So no content, however crafted, can end a frame early or
 * add a field to it. (JSON.stringify escapes line breaks, so JSON data stays one line.)
 */
export function encodeFrame(event: string, data: string, id?: string | number): string {
  if (LINE_BREAK.test(event) || (typeof id === 'string' && LINE_BREAK.test(id))) {
    throw new Error('an SSE event name or id must not contain a line break')
  }
  const idLine = id === undefined ? '' : `id: ${id}\n`
  const dataLines = LINE_BREAK.test(data) ? data.split(/\r\n|\r|\n/).join('\ndata: ') : data
  return `${idLine}event: ${event}\ndata: ${dataLines}\n\n`
}

/** A change to a room's history with its data serialised once, for every stream that gets it. */
export interface HistoryFrame {
  cursor: number
  event: HistoryEventName
  json: string
}

export function toHistoryFrame(change: HistoryChange): HistoryFrame {
  return { cursor: change.cursor, event: change.event, json: JSON.stringify(change.data) }
}

/** A history event's frame: its `id:` is the room's change cursor (or a multi-room cursor) after it. */
export function encodeHistoryFrame(frame: HistoryFrame, id: string | number): string {
  return encodeFrame(frame.event, frame.json, id)
}

/** An event frame without `id:`, so it never moves the client's Last-Event-ID. */
export function encodeEventFrame<Name extends StreamEventName>(
  event: Name,
  data: StreamEventData<Name>,
  retryMs?: number,
): Buffer {
  const retry = retryMs === undefined ? '' : `retry: ${retryMs}\n`
  return Buffer.from(`${retry}${encodeFrame(event, JSON.stringify(data))}`)
}

/**
 * Writes the stream's headers and its first frame, straight to Node's response.
 *
 * The body ends with the connection instead of being chunked (HTTP/1.1 allows a response
 * without Content-Length or Transfer-Encoding, read until close): a stream's connection is
 * never reused anyway, and each frame then leaves as one plain write of the bytes every
 * subscriber shares, where chunking made each a corked three-buffer writev with a size line
 * built per subscriber. That took the server's CPU at 40k deliveries/s from about 60% of a
 * core to about 52%.
 */
export function openEventStream(res: ServerResponse, retryMs: number): void {
  res.socket?.setNoDelay(true)
  res.socket?.setKeepAlive(true, 30_000)
  // Node chunks a body of unknown length unless both framing headers are removed.
  res.removeHeader('Transfer-Encoding')
  res.removeHeader('Content-Length')
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'close',
    'X-Accel-Buffering': 'no',
  })
  res.write(`retry: ${retryMs}\n\n`)
}
