import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { isoText, isoTimestamp } from '../db/sql.js'
import type { RoomRole } from '../wire.js'

/** Who is asking: the token's user and whether it is an admin. */
export interface Viewer {
  userId: string
  isAdmin: boolean
}

export interface RoomAccess {
  roomId: number
  visibility: 'public' | 'private'
  kind: 'room' | 'dm'
  role: RoomRole | null
  /** Owners and admins: members, roles, and whatever moderators may do. */
  canManage: boolean
  /** Owners, moderators and admins: bans, mutes, slow mode, deleting others' messages, reports. */
  canModerate: boolean
  /** Set while the viewer is muted in the room: `until` its end, null until lifted. */
  muted?: { until: string | null }
}

/**
 * The rooms the viewer may read, as a FROM item: `from ${readableRooms(viewer)} r`. The rule
 * is sql/access.sql's; PostgreSQL inlines it, so this plans as `rooms r` with the condition.
 */
export function readableRooms(viewer: Viewer) {
  return sql`parley_readable_rooms(${viewer.userId}::text, ${viewer.isAdmin}::boolean)`
}

type AccessRow = Pick<RoomAccess, 'visibility' | 'kind' | 'role'> & {
  muted: boolean
  muted_until: string | null
}

// Prepared (postgres.js names it by its text): every request to a room runs this. No row
// when the room is missing or the viewer may not read it.
const ACCESS = `
  select r.visibility, r.kind, m.role, mute.user_id is not null as muted,
         ${isoText('mute.until')} as muted_until
    from parley_readable_rooms($2::text, $3::boolean) r
    left join room_members m on m.room_id = r.id and m.user_id = $2::text
    -- The viewer's mute, if any (sql/moderation.sql); an admin is never muted.
    left join lateral parley_mute_of(r.id, $2::text) mute on not $3::boolean
   where r.id = $1::bigint`

async function roomAndRole(db: Db, roomId: number, viewer: Viewer): Promise<AccessRow | undefined> {
  const rows = (await db.$client.unsafe(ACCESS, [roomId, viewer.userId, viewer.isAdmin], {
    prepare: true,
  })) as unknown as AccessRow[]
  return rows[0]
}

interface Question {
  roomId: number
  viewer: Viewer
}

interface Batch {
  questions: Map<string, Question>
  answer: Promise<Map<string, AccessRow>>
}

const batches = new WeakMap<Db, Batch>()
const MAX_BATCH = 5_000
// Long enough to gather a burst of connections, short beside a stream's setup.
const BATCH_WAIT_MS = 5

const questionKey = (roomId: number | string, userId: string, isAdmin: boolean) =>
  `${roomId}\0${userId}\0${isAdmin}`

/**
 * roomAndRole, asked together with every other such question of the same tick in one
 * query: a reconnect storm of thousands of streams costs a few queries, not one per stream.
 * The query is sent after everyone in the batch asked, so no answer predates its question:
 * the hub's checks (a stream joining a room, a removal or a ban announced, the re-check after
 * a listener outage) may use it as well as a stream's opening.
 */
async function batchedRoomAndRole(db: Db, roomId: number, viewer: Viewer): Promise<AccessRow | undefined> {
  const key = questionKey(roomId, viewer.userId, viewer.isAdmin)
  let batch = batches.get(db)
  // Three parameters a question, and PostgreSQL takes at most 65,535 in one statement.
  if (!batch || batch.questions.size >= MAX_BATCH) {
    const questions = new Map<string, Question>()
    const answer = new Promise<void>((resolve) => setTimeout(resolve, BATCH_WAIT_MS)).then(async () => {
      if (batches.get(db) === current) batches.delete(db)
      const asked = sql.join(
        [...questions.values()].map(
          (q) => sql`(${q.roomId}::bigint, ${q.viewer.userId}::text, ${q.viewer.isAdmin}::boolean)`,
        ),
        sql`, `,
      )
      const rows = await db.execute<{ room_id: string; user_id: string; is_admin: boolean } & AccessRow>(sql`
        select t.room_id, t.user_id, t.is_admin, r.visibility, r.kind, m.role,
               mute.user_id is not null as muted, ${isoTimestamp('mute.until')} as muted_until
        from (values ${asked}) as t(room_id, user_id, is_admin)
        join lateral parley_readable_rooms(t.user_id, t.is_admin) r on r.id = t.room_id
        left join room_members m on m.room_id = t.room_id and m.user_id = t.user_id
        left join lateral parley_mute_of(r.id, t.user_id) mute on not t.is_admin`)
      return new Map(
        rows.map((row) => [
          questionKey(row.room_id, row.user_id, row.is_admin),
          {
            visibility: row.visibility,
            kind: row.kind,
            role: row.role,
            muted: row.muted,
            muted_until: row.muted_until,
          },
        ]),
      )
    })
    const current: Batch = { questions, answer }
    batch = current
    batches.set(db, batch)
  }
  batch.questions.set(key, { roomId, viewer })
  return (await batch.answer).get(key)
}

/**
 * The viewer's access to a room, or undefined when the room does not exist or the viewer
 * may not read it (sql/access.sql): callers answer both with the same 404, so a private
 * room's existence does not leak.
 *
 * With `shared`, the question is asked in one query with the others of the same tick.
 */
export async function readableRoom(
  db: Db,
  roomId: number,
  viewer: Viewer,
  { shared = false } = {},
): Promise<RoomAccess | undefined> {
  if (!Number.isSafeInteger(roomId)) return undefined
  const row = await (shared ? batchedRoomAndRole : roomAndRole)(db, roomId, viewer)
  if (!row) return undefined
  const canManage = row.role === 'owner' || viewer.isAdmin
  return {
    roomId,
    visibility: row.visibility,
    kind: row.kind,
    role: row.role,
    canManage,
    canModerate: canManage || row.role === 'moderator',
    ...(row.muted ? { muted: { until: row.muted_until } } : {}),
  }
}
