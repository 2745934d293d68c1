/**
 * A stream's position, as its `id:` lines carry it and Last-Event-ID sends it back. A
 * single-room stream's id is the room's change cursor (`17`); a multi-room stream's is the
 * cursor of every room, `room:cursor` joined by commas (`1:5,2:9`). The server and the
 * client library both read and write it here, so the two can never disagree on its form.
 */

const CURSOR = /^[0-9]{1,15}$/
const ROOM_CURSOR = /^([0-9]{1,15}):([0-9]{1,15})$/

/** `1:5,2:9`: room 1 up to change cursor 5, room 2 up to 9. */
export function encodeRoomCursors(cursors: Iterable<readonly [number, number]>): string {
  let text = ''
  for (const [roomId, cursor] of cursors) text += `${text ? ',' : ''}${roomId}:${cursor}`
  return text
}

/** The per-room cursors of a multi-room id; undefined when it is not one. */
export function parseRoomCursors(text: string): Map<number, number> | undefined {
  const cursors = new Map<number, number>()
  for (const part of text.split(',')) {
    const match = ROOM_CURSOR.exec(part.trim())
    if (!match) return undefined
    cursors.set(Number(match[1]), Number(match[2]))
  }
  return cursors
}

/** A single-room id; undefined when it is not one. */
export function parseSingleCursor(text: string): number | undefined {
  return CURSOR.test(text) ? Number(text) : undefined
}

/**
 * A user stream's position: on one database the user's event cursor (`17`); over shards the
 * cursor of each place that numbers the user's events, `place:cursor,…`, place 0 being
 * DATABASE_URL and every other a shard's catalog id (`0:2,1:17,2:5`). Read into one map
 * either way: a lone cursor is place 0's. Undefined when the text is neither.
 */
export function parseUserPosition(text: string): Map<number, number> | undefined {
  const cursor = parseSingleCursor(text)
  return cursor === undefined ? parseRoomCursors(text) : new Map([[USER_HOME, cursor]])
}

/** The place that numbers a user's events on one database, and their own events over shards. */
export const USER_HOME = 0

/** A user stream's `id:`: the lone cursor when only place 0 numbers events, else every place's. */
export function encodeUserPosition(position: ReadonlyMap<number, number>, places: 'one' | 'shards'): string {
  if (places === 'one') return String(position.get(USER_HOME) ?? 0)
  return encodeRoomCursors([...position].sort(([a], [b]) => a - b))
}
