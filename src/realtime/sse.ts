import type { ServerResponse } from 'node:http'
import { toMessageView } from '../chat/messages.js'
import type { MessageRow } from '../db/schema.js'

export const PING_FRAME = Buffer.from(': ping\n\n')

/** A message's JSON, as the REST API returns it. JSON.stringify escapes newlines, so `data:` stays one line. */
export function messageJson(row: MessageRow): string {
  return JSON.stringify(toMessageView(row))
}

/** A frame without `id:`, so it never moves the client's Last-Event-ID. */
export function encodeEventFrame(event: string, data: unknown, retryMs?: number): Buffer {
  const retry = retryMs === undefined ? '' : `retry: ${retryMs}\n`
  return Buffer.from(`${retry}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}

/** Writes the stream's headers and its first frame, straight to Node's response. */
export function openEventStream(res: ServerResponse, retryMs: number): void {
  res.socket?.setNoDelay(true)
  res.socket?.setKeepAlive(true, 30_000)
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  })
  res.write(`retry: ${retryMs}\n\n`)
}
