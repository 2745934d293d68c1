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
