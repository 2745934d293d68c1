import { describe, expect, it } from 'vitest'
import { encodeEventFrame, encodeFrame, encodeHistoryFrame } from '../../src/realtime/sse.js'

describe('encodeFrame', () => {
  it('writes id, event and data lines and ends the frame with a blank line', () => {
    expect(encodeFrame('message', '{"a":1}', 7)).toBe('id: 7\nevent: message\ndata: {"a":1}\n\n')
    const edit = { cursor: 5, event: 'edit', json: '{}' } as const
    expect(encodeHistoryFrame(edit, '1:5,2:9')).toBe('id: 1:5,2:9\nevent: edit\ndata: {}\n\n')
  })

  it('splits data on every kind of line break, so content cannot end the frame or add a field', () => {
    expect(encodeFrame('x', 'a\n\nid: 9\revent: y\r\nz')).toBe(
      'event: x\ndata: a\ndata: \ndata: id: 9\ndata: event: y\ndata: z\n\n',
    )
  })

  it('refuses an event name or an id with a line break', () => {
    expect(() => encodeFrame('message\nid: 999999', '{}')).toThrow()
    expect(() => encodeFrame('message', '{}', '1\r2')).toThrow()
  })

  it('builds closing events with a retry hint and no id', () => {
    const frame = encodeEventFrame('shutdown', { reason: 'server_shutdown' }, 2000).toString()
    expect(frame).toBe('retry: 2000\nevent: shutdown\ndata: {"reason":"server_shutdown"}\n\n')
  })
})
