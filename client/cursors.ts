import {
  encodeRoomCursors,
  encodeUserPosition,
  parseRoomCursors,
  parseSingleCursor,
  parseUserPosition,
  USER_HOME,
} from '../src/stream-cursor.js'

/**
 * A saved stream position: the `{ [roomId]: cursor }` map of `position`, or the text of
 * `lastEventId` (`17` for one room, `1:5,2:9` for several).
 */
export type StreamPosition = Record<number, number> | string

/** What a stream keeps of where it resumes: its rooms' cursors, or the user's position. */
export interface StreamCursors {
  /** Takes in a history event's `id:`; false when it was delivered before, to be dropped. */
  advance(id: string, roomId: number | undefined): boolean
  /** The Last-Event-ID to send: nothing until some cursor is known. */
  lastEventId(rooms?: readonly number[]): string | undefined
  /** The stream goes on from `cursor` (a `reload`, or the starting point the server gave). */
  moveTo(roomId: number, cursor: number | string): void
  /** The room's cursor (the user's position), undefined until known. */
  get(roomId: number): number | string | undefined
}

/**
 * Where a stream resumes: the change cursor of each of its rooms after the last history
 * event delivered. A single-room stream's `id:` is the room's cursor; a multi-room stream's
 * is `room:cursor,…` for all its rooms.
 */
export function createCursors(roomIds: readonly number[], multi: boolean, after?: StreamPosition) {
  function parse(id: string): Map<number, number> | undefined {
    if (multi) return parseRoomCursors(id)
    const cursor = parseSingleCursor(id)
    return cursor !== undefined && roomIds[0] !== undefined ? new Map([[roomIds[0], cursor]]) : undefined
  }

  const parsed = typeof after === 'string' && after !== '' ? parse(after) : undefined
  if (typeof after === 'string' && after !== '' && !parsed) {
    throw new TypeError(`"${after}" is not a stream position`)
  }
  const cursors = new Map<number, number>()
  for (const roomId of roomIds) {
    const cursor = typeof after === 'string' ? parsed?.get(roomId) : after?.[roomId]
    if (cursor !== undefined) cursors.set(roomId, cursor)
  }

  return {
    /**
     * Takes in the `id:` of a history event of room `roomId`; false when that room's cursor
     * is already there or past it, a change delivered before, to be dropped.
     */
    advance(id: string, roomId: number | undefined): boolean {
      const parsed = parse(id)
      const room = multi ? roomId : roomIds[0]
      if (!parsed || room === undefined) return true
      const next = parsed.get(room)
      const known = cursors.get(room)
      if (next !== undefined && known !== undefined && next <= known) return false
      for (const [roomId, cursor] of parsed) {
        if (!roomIds.includes(roomId)) continue
        if (cursor > (cursors.get(roomId) ?? -1)) cursors.set(roomId, cursor)
      }
      return true
    },

    /** The Last-Event-ID to send: nothing until some room has a cursor. */
    lastEventId(rooms: readonly number[] = roomIds): string | undefined {
      if (!multi) {
        const cursor = rooms[0] === undefined ? undefined : cursors.get(rooms[0])
        return cursor === undefined ? undefined : String(cursor)
      }
      const known = rooms.flatMap((roomId) => {
        const cursor = cursors.get(roomId)
        return cursor === undefined ? [] : [[roomId, cursor] as const]
      })
      return known.length > 0 ? encodeRoomCursors(known) : undefined
    },

    /** After `reload`: the room's history before `cursor` is gone, and the stream goes on from it. */
    moveTo(roomId: number, cursor: number | string): void {
      if (typeof cursor === 'number' && roomIds.includes(roomId)) cursors.set(roomId, cursor)
    },

    get: (roomId: number) => cursors.get(roomId),

    /** The known cursors of `rooms`, by room id: a position `after` takes back. */
    position(rooms: readonly number[] = roomIds): Record<number, number> {
      const position: Record<number, number> = {}
      for (const roomId of rooms) {
        const cursor = cursors.get(roomId)
        if (cursor !== undefined) position[roomId] = cursor
      }
      return position
    },
  }
}

/**
 * Where the user's own stream resumes: the user's event cursor (`17`); over shards, one per
 * place that numbers their events (`0:2,1:17`). Each `id:` carries the whole position; an
 * event that moves no place forward was delivered before, and is dropped.
 */
export function createUserCursor(after?: number | string): StreamCursors {
  let cursors = new Map<number, number>()
  let lone = true

  function moveTo(_user: number, cursor: number | string): void {
    const parsed = typeof cursor === 'number' ? new Map([[USER_HOME, cursor]]) : parseUserPosition(cursor)
    if (!parsed) throw new TypeError(`"${cursor}" is not a stream position`)
    cursors = parsed
    lone = typeof cursor === 'number' || parseSingleCursor(cursor) !== undefined
  }
  if (after !== undefined && after !== '') moveTo(USER_HOME, after)

  return {
    advance(id: string): boolean {
      const next = parseUserPosition(id)
      if (!next) return true
      const known = (place: number) => cursors.get(place) ?? -1
      if (cursors.size > 0 && ![...next].some(([place, cursor]) => cursor > known(place))) return false
      for (const [place, cursor] of next) cursors.set(place, Math.max(cursor, known(place)))
      lone = parseSingleCursor(id) !== undefined
      return true
    },
    moveTo,
    lastEventId(): string | undefined {
      return cursors.size === 0 ? undefined : encodeUserPosition(cursors, lone ? 'one' : 'shards')
    },
    /** The user's cursor, or over shards the text of the position: what `after` takes back. */
    get(): number | string | undefined {
      if (cursors.size === 0) return undefined
      return lone ? (cursors.get(USER_HOME) ?? 0) : encodeUserPosition(cursors, 'shards')
    },
  }
}
