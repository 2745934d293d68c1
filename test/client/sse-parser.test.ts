import { describe, expect, it } from 'vitest'
import { createSseParser, type SseEvent } from '../../client/sse-parser.js'

function parse(chunks: string[]) {
  const events: SseEvent[] = []
  const retries: number[] = []
  const parser = createSseParser({ event: (event) => events.push(event), retry: (ms) => retries.push(ms) })
  for (const chunk of chunks) parser.feed(chunk)
  return { events, retries }
}

describe('the SSE parser', () => {
  it('reads id, event and data, and dispatches on a blank line', () => {
    expect(parse(['retry: 2000\n\nid: 7\nevent: message\ndata: {"a":1}\n\n']).events).toEqual([
      { event: 'message', data: '{"a":1}', id: '7' },
    ])
  })

  it('gives events without an id no id, and names unnamed events message', () => {
    expect(parse(['data: x\n\nevent: presence\ndata: y\n\n']).events).toEqual([
      { event: 'message', data: 'x' },
      { event: 'presence', data: 'y' },
    ])
  })

  it('joins data lines with LF and drops only one leading space', () => {
    expect(parse(['data:  two\ndata:one\ndata\n\n']).events).toEqual([
      { event: 'message', data: ' two\none\n' },
    ])
  })

  it('treats CRLF, LF and CR alike, even a CRLF split across chunks', () => {
    const { events } = parse(['id: 1\r', '\nevent: a\rdata: x\r\n', '\r', '\nid: 2\ndata: y\n\n'])
    expect(events).toEqual([
      { event: 'a', data: 'x', id: '1' },
      { event: 'message', data: 'y', id: '2' },
    ])
  })

  it('assembles a frame cut anywhere, one character at a time', () => {
    const text = 'id: 3\nevent: edit\ndata: {"body":"héllo 👋"}\n\n'
    expect(parse([...text]).events).toEqual([{ event: 'edit', data: '{"body":"héllo 👋"}', id: '3' }])
  })

  it('ignores comments, unknown fields, an empty frame, a leading BOM and an id holding NUL', () => {
    const { events } = parse(['\uFEFF: ping\n\nfoo: bar\n\n\n\nid: a\0b\ndata: z\n\n'])
    expect(events).toEqual([{ event: 'message', data: 'z' }])
  })

  it('reports a numeric retry and ignores any other', () => {
    expect(parse(['retry: 1500\nretry: soon\n\n']).retries).toEqual([1500])
  })

  it('does not dispatch a frame the stream ended in the middle of', () => {
    expect(parse(['id: 9\nevent: message\ndata: {"partial"']).events).toEqual([])
  })
})
