import { describe, expect, it } from 'vitest'
import { createUserCursor } from '../../client/cursors.js'

// Where the client library resumes the user's own stream (client/cursors.ts).

describe("the user stream's position in the client library", () => {
  it('keeps a lone cursor on one database, dropping an event it has had', () => {
    const cursor = createUserCursor(4)
    expect(cursor.lastEventId()).toBe('4')
    expect(cursor.advance('4', undefined)).toBe(false)
    expect(cursor.advance('5', undefined)).toBe(true)
    expect(cursor.get(0)).toBe(5)
  })

  it('keeps one cursor per shard, and drops an event that moves none of them forward', () => {
    const cursor = createUserCursor()
    expect(cursor.lastEventId()).toBeUndefined()
    expect(cursor.advance('0:1,1:7,2:3', undefined)).toBe(true)
    expect(cursor.advance('0:1,1:7,2:4', undefined)).toBe(true)
    expect(cursor.advance('0:1,1:6,2:4', undefined)).toBe(false)
    // A shard added since: its first cursor is news.
    expect(cursor.advance('0:1,1:7,2:4,3:1', undefined)).toBe(true)
    expect(cursor.lastEventId()).toBe('0:1,1:7,2:4,3:1')
    cursor.moveTo(0, '0:1,1:9,2:4,3:1')
    expect(cursor.get(0)).toBe('0:1,1:9,2:4,3:1')
    expect(() => createUserCursor('1:2,')).toThrow(TypeError)
  })
})
