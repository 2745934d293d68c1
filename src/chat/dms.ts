import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import type { RowOf } from '../db/sql.js'
import type { Room } from '../wire.js'
import { ChatError } from './errors.js'
import { getRoom } from './rooms.js'

export interface DmPerson {
  userId: string
  /** The display name to show the other person; the other's id when unknown. */
  userName?: string
}

export interface OpenDm {
  caller: Required<DmPerson>
  other: DmPerson
  /** Refuses when the caller may not create a room now; asked only when one is created. */
  beforeCreating: () => Promise<void>
  /** The room's id, when the sharding catalog placed it (either of the two may create it). */
  id?: number
}

// Long enough for two names side by side within a room name's 100 characters.
const NAME_PART = 48

const truncate = (name: string) => [...name].slice(0, NAME_PART).join('')

/**
 * The direct-message room of two people, created the first time either asks. The pair is
 * ordered by PostgreSQL (least, greatest), so both orders name one row, and its unique
 * index makes two people starting a conversation at the same moment get one room: the
 * second insert finds the first's row and reads it afterwards, in a statement of its own
 * that sees the row committed. Each call refreshes the caller's own display name.
 */
export async function openDm(db: Db, { caller, other, beforeCreating, id }: OpenDm) {
  requireOther(caller, other)
  const existing = await findDm(db, caller, other.userId)
  if (existing) return { room: existing, created: false }

  await beforeCreating()
  const otherName = other.userName ?? other.userId
  const name = `${truncate(caller.userName)} & ${truncate(otherName)}`
  // With a placed id, the other person may be creating the same room: either conflict means it exists.
  const onConflict =
    id === undefined
      ? sql`on conflict (dm_low, dm_high) where kind = 'dm' do nothing`
      : sql`on conflict do nothing`
  const rows = await db.execute<{ id: string }>(sql`
    with r as (
      insert into rooms (id, name, created_by, visibility, kind, dm_low, dm_high)
      values (${id ?? sql`default`}, ${name}, ${caller.userId}, 'private', 'dm',
              least(${caller.userId}::text, ${other.userId}::text), greatest(${caller.userId}::text, ${other.userId}::text))
      ${onConflict}
      returning id),
    members as (
      insert into room_members (room_id, user_id, role, user_name)
      select r.id, p.user_id, 'member', p.user_name from r,
        (values (${caller.userId}::text, ${caller.userName}::text), (${other.userId}::text, ${otherName}::text))
          as p(user_id, user_name))
    select id from r`)
  const created = rows[0]
  if (created) {
    const room = await getRoom(db, Number(created.id))
    if (!room) throw new Error('a new direct message vanished')
    return { room, created: true }
  }
  const raced = await findDm(db, caller, other.userId)
  if (!raced) throw new Error('a direct message was neither created nor found')
  return { room: raced, created: false }
}

/** Refuses a direct message with oneself. */
export function requireOther(caller: DmPerson, other: DmPerson): void {
  if (caller.userId === other.userId) {
    throw new ChatError('dm_with_self', 'A direct message needs another person')
  }
}

/** The pair's room if it exists, refreshing the caller's display name in it. */
async function findDm(db: Db, caller: Required<DmPerson>, otherId: string): Promise<Room | undefined> {
  const rows = await db.execute<RowOf<{ id: number }>>(sql`
    with dm as (
      select id from rooms
       where kind = 'dm' and dm_low = least(${caller.userId}::text, ${otherId}::text)
         and dm_high = greatest(${caller.userId}::text, ${otherId}::text)),
    named as (
      update room_members m set user_name = ${caller.userName}
        from dm where m.room_id = dm.id and m.user_id = ${caller.userId}
         and m.user_name is distinct from ${caller.userName})
    select id from dm`)
  return rows[0] ? getRoom(db, Number(rows[0].id)) : undefined
}
