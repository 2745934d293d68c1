import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readableRoom, type Viewer } from '../../src/chat/access.js'
import { createDb } from '../../src/db/client.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// Who may read a room is written once, as parley_readable_rooms (sql/access.sql); the server's
// checks and the mention trigger all read it. These are its verdicts, asked of the database
// directly and through src/chat/access.ts, one question at a time and batched.

let database: TestDatabase
let pool: ReturnType<typeof createDb>
const rooms: Record<'open' | 'hidden' | 'dm', number> = { open: 0, hidden: 0, dm: 0 }
const MISSING = 987_654_321

beforeAll(async () => {
  database = await createTestDatabase()
  pool = createDb(database.url, { max: 2 })
  const made = await database.sql<{ id: string; name: string }[]>`
    insert into rooms (name, created_by, visibility, kind, dm_low, dm_high)
    values ('open', 'olive', 'public', 'room', null, null),
           ('hidden', 'olive', 'private', 'room', null, null),
           ('ann & bob', 'ann', 'private', 'dm', 'ann', 'bob')
    returning id, name`
  const id = (name: string) => Number(made.find((room) => room.name === name)!.id)
  rooms.open = id('open')
  rooms.hidden = id('hidden')
  rooms.dm = id('ann & bob')
  await database.sql`
    insert into room_members (room_id, user_id, role)
    values (${rooms.open}, 'olive', 'owner'), (${rooms.hidden}, 'olive', 'owner'),
           (${rooms.hidden}, 'mia', 'member'), (${rooms.dm}, 'ann', 'member'), (${rooms.dm}, 'bob', 'member')`
  // A ban (sql/moderation.sql) removes a member; bo is added back by hand, still banned.
  await database.sql`
    insert into room_bans (room_id, user_id, until)
    values (${rooms.open}, 'bart', null), (${rooms.hidden}, 'bo', now() + interval '1 hour'),
           (${rooms.open}, 'eve', now() - interval '1 second'), (${rooms.open}, 'ada', null)`
  await database.sql`insert into room_members (room_id, user_id, role) values (${rooms.hidden}, 'bo', 'member')`
  await database.sql`
    insert into room_mutes (room_id, user_id, until)
    values (${rooms.open}, 'mo', null), (${rooms.open}, 'ada', null), (${rooms.open}, 'max', now() - interval '1 second')`
})

afterAll(async () => {
  await pool?.sql.end({ timeout: 1 })
  await database?.drop()
})

const person = (userId: string): Viewer => ({ userId, isAdmin: false })
const admin: Viewer = { userId: 'ada', isAdmin: true }

// [who, which room, may they read it]
const VERDICTS: [string, Viewer, keyof typeof rooms | 'missing', boolean][] = [
  ['a stranger', person('nick'), 'open', true],
  ['a stranger', person('nick'), 'hidden', false],
  ['a member', person('mia'), 'hidden', true],
  ['the owner', person('olive'), 'hidden', true],
  ['an admin', admin, 'hidden', true],
  ['one of its two people', person('ann'), 'dm', true],
  ['the other of its two people', person('bob'), 'dm', true],
  ['a stranger', person('nick'), 'dm', false],
  ['an admin', admin, 'dm', true],
  ['a user banned from it', person('bart'), 'open', false],
  ['a member banned from it for an hour', person('bo'), 'hidden', false],
  ['a user whose ban has ended', person('eve'), 'open', true],
  ['an admin with a ban', admin, 'open', true],
  ['a stranger', person('nick'), 'missing', false],
  ['an admin', admin, 'missing', false],
]

const roomId = (room: keyof typeof rooms | 'missing') => (room === 'missing' ? MISSING : rooms[room])

async function verdictOf(viewer: Viewer, id: number): Promise<boolean> {
  const [row] = await database.sql<{ readable: boolean }[]>`
    select exists (select 1 from parley_readable_rooms(${viewer.userId}, ${viewer.isAdmin}) r
                    where r.id = ${id}) as readable`
  return row!.readable
}

describe('parley_readable_rooms', () => {
  it.each(VERDICTS)('lets %s read the %s room: %s', async (_who, viewer, room, readable) => {
    expect(await verdictOf(viewer, roomId(room))).toBe(readable)
  })

  it('gives readableRoom the same verdicts, asked alone and batched together', async () => {
    const expected = VERDICTS.map(([, , , readable]) => readable)
    const alone: boolean[] = []
    for (const [, viewer, room] of VERDICTS) {
      alone.push((await readableRoom(pool.db, roomId(room), viewer)) !== undefined)
    }
    const batched = await Promise.all(
      VERDICTS.map(
        async ([, viewer, room]) =>
          (await readableRoom(pool.db, roomId(room), viewer, { shared: true })) !== undefined,
      ),
    )
    expect(alone).toEqual(expected)
    expect(batched).toEqual(expected)
  })

  it('tells an admin and a non-admin of the same id apart within one batch', async () => {
    const [asAdmin, asPerson] = await Promise.all([
      readableRoom(pool.db, rooms.hidden, { userId: 'ada', isAdmin: true }, { shared: true }),
      readableRoom(pool.db, rooms.hidden, { userId: 'ada', isAdmin: false }, { shared: true }),
    ])
    expect(asAdmin).toMatchObject({
      roomId: rooms.hidden,
      visibility: 'private',
      role: null,
      canManage: true,
    })
    expect(asPerson).toBeUndefined()
  })

  it('tells readableRoom of a mute in force, never of an ended one nor of an admin’s', async () => {
    const muted = await Promise.all(
      [person('mo'), person('max'), admin, person('nick')].map(
        async (viewer) => (await readableRoom(pool.db, rooms.open, viewer))?.muted,
      ),
    )
    expect(muted).toEqual([{ until: null }, undefined, undefined, undefined])
  })

  it('is what the mention trigger asks: a mention counts for whoever may read the room', async () => {
    const [row] = await database.sql<{ mentions: string[] }[]>`
      insert into messages (room_id, user_id, user_name, body)
      values (${rooms.hidden}, 'olive', 'Olive', '@mia @nick @ada @bo see this')
      returning mentions`
    expect(row!.mentions).toEqual(['mia'])
  })
})
