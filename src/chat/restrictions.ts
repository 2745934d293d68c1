import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { Restriction } from '../wire.js'
import { ChatError } from './errors.js'
import { actedBy } from './actor.js'

// Bans and mutes: one row per (room, user) in room_bans or room_mutes, in force until
// `until` (null: until lifted). What they do is SQL's: a ban is part of who may read a room
// (sql/access.sql) and its trigger closes the user's streams; a mute is asked by every post,
// edit and reaction (parley_mute_of). Both tables have the same shape, so one set of
// statements serves both.

export type RestrictionKind = 'ban' | 'mute'

const tables = { ban: sql.raw('room_bans'), mute: sql.raw('room_mutes') }
const notFound = { ban: 'ban_not_found', mute: 'mute_not_found' } as const

const restrictionColumns = sql.raw(`x.room_id, x.user_id,
  to_char(x.until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as until, x.reason, x.created_by,
  to_char(x.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
  to_char(x.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`)

type RestrictionRow = Omit<Restriction, 'room_id'> & { room_id: string; position: string }

const toRestriction = ({ position: _, ...row }: RestrictionRow): Restriction => ({
  ...row,
  room_id: Number(row.room_id),
})

/** Where a page of bans or mutes starts: after the one imposed at this time on this user. */
export interface RestrictionCursor {
  at: string
  userId: string
}

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

export function encodeRestrictionCursor(cursor: RestrictionCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.userId])).toString('base64url')
}

/** The cursor an earlier page handed out, or undefined when `text` is not one. */
export function parseRestrictionCursor(text: string): RestrictionCursor | undefined {
  let parts: unknown
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(parts) || parts.length !== 2 || !parts.every((part) => typeof part === 'string'))
    return undefined
  const [at, userId] = parts as [string, string]
  const cursor = { at, userId }
  return AT.test(at) && encodeRestrictionCursor(cursor) === text ? cursor : undefined
}

export interface NewRestriction {
  roomId: number
  userId: string
  /** How long it lasts; forever (until lifted) when undefined. */
  seconds?: number
  reason?: string
  /** The moderator who imposes it. */
  by: string
}

/**
 * Bans or mutes a user, or replaces the ban or mute in force (a new end, a new reason;
 * `created: false`). The ban's trigger does the rest (sql/moderation.sql).
 */
export async function impose(db: Db, kind: RestrictionKind, input: NewRestriction) {
  const until = input.seconds === undefined ? sql`null` : sql`now() + make_interval(secs => ${input.seconds})`
  const rows = await db.execute<RestrictionRow & { created: boolean }>(sql`
    insert into ${tables[kind]} as x (room_id, user_id, until, reason, created_by)
    values (${input.roomId}, ${input.userId}, ${until}, ${input.reason ?? null}, ${input.by})
    on conflict (room_id, user_id) do update
      set until = excluded.until, reason = excluded.reason, created_by = excluded.created_by,
          created_at = now()
    returning ${restrictionColumns}, xmax = 0 as created`)
  const row = rows[0]
  if (!row) throw new Error('upsert returned no row')
  const { created, ...restriction } = row
  return { restriction: toRestriction(restriction), created }
}

/** Lifts the ban or mute in force; 404 when there is none. */
export async function lift(db: Db, kind: RestrictionKind, roomId: number, userId: string, by: string) {
  const rows = await db.execute(sql`
    delete from ${tables[kind]} x using ${actedBy(by)}
     where x.room_id = ${roomId} and x.user_id = ${userId} and parley_in_force(x.until)
    returning x.user_id`)
  if (rows.length === 0) {
    throw new ChatError(notFound[kind], `${userId} has no ${kind} in force in room ${roomId}`)
  }
}

/** A page of the bans or mutes in force, the newest first. */
export async function listRestrictions(
  db: Db,
  kind: RestrictionKind,
  roomId: number,
  page: { limit: number; after?: RestrictionCursor },
): Promise<{ items: Restriction[]; nextCursor: string | null }> {
  const after = page.after
    ? sql`and (x.created_at, x.user_id) < (${page.after.at}::timestamptz, ${page.after.userId})`
    : sql``
  const rows = await db.execute<RestrictionRow>(sql`
    select ${restrictionColumns} from ${tables[kind]} x
     where x.room_id = ${roomId} and parley_in_force(x.until) ${after}
     order by x.created_at desc, x.user_id desc
     limit ${page.limit + 1}`)
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined
  return {
    items: rows.slice(0, page.limit).map(toRestriction),
    nextCursor: last ? encodeRestrictionCursor({ at: last.position, userId: last.user_id }) : null,
  }
}
