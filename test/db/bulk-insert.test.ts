import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { openStream, type StreamClient } from '../support/sse.js'
import { until } from '../support/wait.js'

// Many messages in one statement (sql/messages.sql): numbered from the statement's cache,
// the room's row written once at its end, so an insert … select costs what its rows do.
// Whatever the statement's size, the rows, cursors, counters and doorbells are those that
// as many single-row inserts would have left.

const { server, database } = useTestServer()
const streams: StreamClient[] = []
const BULK = 50_000

afterAll(() => {
  for (const stream of streams) stream.close()
})

let rooms = 0
async function newRoom(): Promise<number> {
  const [room] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by) values (${`bulk-${++rooms}`}, 'ops') returning id`
  return Number(room?.id)
}

async function subscribe(roomId: number): Promise<StreamClient> {
  const before = server.hub.subscriberCount(roomId)
  const stream = openStream(server.url, roomId, { token: await server.token(`watcher-${roomId}`) })
  streams.push(stream)
  await stream.opened
  await until(() => server.hub.subscriberCount(roomId) === before + 1, 'the subscriber to register')
  return stream
}

/** Every parley_messages payload of `roomIds`, in arrival order, until `unlisten`. */
async function doorbells(roomIds: number[]) {
  const payloads: string[] = []
  const { unlisten } = await database.sql.listen('parley_messages', (payload) => {
    if (roomIds.some((roomId) => payload.startsWith(`${roomId}:`))) payloads.push(payload)
  })
  return { payloads, unlisten }
}

async function insertOne(roomId: number, body = 'one') {
  await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', ${body})`
}

/** The room's counters and what its rows say they should be. */
async function roomState(roomId: number) {
  const [state] = await database.sql<
    {
      last_seq: string
      last_cursor: string
      message_count: string
      at_newest: boolean
      seqs: string
      rows: string
    }[]
  >`
    select r.last_seq, r.last_cursor, r.message_count,
           r.last_message_at = (select created_at from messages where room_id = r.id order by seq desc limit 1) as at_newest,
           (select count(distinct seq) from messages where room_id = r.id) as seqs,
           (select count(*) from messages where room_id = r.id) as rows
      from rooms r where r.id = ${roomId}`
  return {
    lastSeq: Number(state?.last_seq),
    lastCursor: Number(state?.last_cursor),
    messageCount: Number(state?.message_count),
    atNewest: state?.at_newest,
    distinctSeqs: Number(state?.seqs),
    rows: Number(state?.rows),
  }
}

/**
 * Every cursor the room's history took, in order: new messages (a message deleted by hand
 * keeps its insert's cursor in its delete) and every other change.
 */
async function cursors(roomId: number): Promise<number[]> {
  const rows = await database.sql<{ cursor: string }[]>`
    select created_cursor as cursor from messages where room_id = ${roomId}
    union all select cursor from message_changes where room_id = ${roomId}
    union all select message_cursor from message_changes where room_id = ${roomId} and message_cursor is not null
    order by cursor`
  return rows.map((row) => Number(row.cursor))
}

async function seqsAndCursors(roomId: number) {
  const rows = await database.sql<{ seq: string; created_cursor: string }[]>`
    select seq, created_cursor from messages where room_id = ${roomId} order by seq`
  return { seqs: rows.map((row) => Number(row.seq)), cursors: rows.map((row) => Number(row.created_cursor)) }
}

describe('an insert … select of many rows', () => {
  it('numbers 50,000 rows into one room after a single insert, rings once, and streams each once', async () => {
    const roomId = await newRoom()
    const stream = await subscribe(roomId)
    await insertOne(roomId)
    const bells = await doorbells([roomId])
    try {
      await database.sql`
        insert into messages (room_id, user_id, user_name, body)
        select ${roomId}, 'ops', 'Ops', 'bulk ' || i from generate_series(1, ${BULK}) i`
      await insertOne(roomId, 'marker')
      const last = BULK + 2
      await until(() => bells.payloads.length >= 2, 'the marker’s doorbell')
      expect(bells.payloads).toEqual([`${roomId}:${BULK + 1}`, `${roomId}:${last}`])
      expect(await seqsAndCursors(roomId)).toEqual({ seqs: range(1, last), cursors: range(1, last) })
      expect(await roomState(roomId)).toEqual({
        lastSeq: last,
        lastCursor: last,
        messageCount: last,
        atNewest: true,
        distinctSeqs: last,
        rows: last,
      })
      await stream.waitFor(last, 60_000)
      expect(stream.seqs()).toEqual(range(1, last))
    } finally {
      await bells.unlisten()
    }
  }, 180_000)

  it('numbers 50,000 rows over three rooms in one statement from where each room was', async () => {
    const [a, b, c] = [await newRoom(), await newRoom(), await newRoom()]
    const watched = await Promise.all([a, b, c].map(subscribe))
    await insertOne(a)
    await insertOne(a)
    await insertOne(c)
    await database.sql`update messages set body = 'edited' where room_id = ${c} and seq = 1`
    const bells = await doorbells([a, b, c])
    try {
      await database.sql`
        insert into messages (room_id, user_id, user_name, body)
        select (array[${a}, ${b}, ${c}]::bigint[])[1 + i % 3], 'ops', 'Ops', 'spread ' || i
          from generate_series(0, ${BULK - 1}) i`
      const share = (k: number) => Math.floor((BULK - 1 - k) / 3) + 1
      // a had 2 messages, b none, c one and an edit (cursor 2).
      const expected = {
        [a]: { first: 3, last: 2 + share(0), cursorShift: 0 },
        [b]: { first: 1, last: share(1), cursorShift: 0 },
        [c]: { first: 2, last: 1 + share(2), cursorShift: 1 },
      }
      await until(() => bells.payloads.length >= 3, 'three doorbells')
      expect([...bells.payloads].sort()).toEqual(
        [a, b, c].map((room) => `${room}:${expected[room]!.last + expected[room]!.cursorShift}`).sort(),
      )
      for (const [index, room] of [a, b, c].entries()) {
        const { first, last, cursorShift } = expected[room]!
        const { seqs, cursors: created } = await seqsAndCursors(room)
        expect(seqs).toEqual(range(1, last))
        expect(created.slice(first - 1)).toEqual(range(first + cursorShift, last + cursorShift))
        expect(await cursors(room)).toEqual(range(1, last + cursorShift))
        expect(await roomState(room)).toMatchObject({
          lastSeq: last,
          lastCursor: last + cursorShift,
          messageCount: last,
          atNewest: true,
        })
        await watched[index]!.waitFor(last, 60_000)
        expect(watched[index]!.seqs()).toEqual(range(1, last))
      }
    } finally {
      await bells.unlisten()
    }
  }, 180_000)

  it('numbers one statement over 600 rooms, several sharing each of the cache’s settings', async () => {
    const rows = await database.sql<{ id: string }[]>`
      insert into rooms (name, created_by) select 'many ' || g, 'ops' from generate_series(1, 600) g returning id`
    const ids = rows.map((row) => Number(row.id))
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${ids[7]!}, 'ops', 'Ops', 'before')`
    await database.sql`
      insert into messages (room_id, user_id, user_name, body)
      select (${database.sql.array(ids)}::bigint[])[1 + g % 600], 'ops', 'Ops', 'many ' || g
        from generate_series(0, 5999) g`
    const [state] = await database.sql<{ rooms: string; exact: string; numbered: string }[]>`
      select count(*) as rooms,
             count(*) filter (where r.last_seq = m.top and r.last_cursor = m.top and r.message_count = m.n) as exact,
             count(*) filter (where m.top = m.n and m.cursors = m.n) as numbered
        from rooms r
        join (select room_id, max(seq) as top, count(*) as n, count(distinct created_cursor) as cursors
                from messages group by room_id) m on m.room_id = r.id
       where r.id = any(${database.sql.array(ids)}::bigint[])`
    expect(state).toEqual({ rooms: '600', exact: '600', numbered: '600' })
    const [before] = await database.sql<
      { last_seq: string }[]
    >`select last_seq from rooms where id = ${ids[7]!}`
    expect(before?.last_seq).toBe('11')
  })

  it('numbers bulk statements and concurrent single-row inserters into one room without gaps or repeats', async () => {
    const roomId = await newRoom()
    const stream = await subscribe(roomId)
    const writers = Array.from({ length: 4 }, () => postgres(database.url, { max: 1, onnotice: () => {} }))
    try {
      await Promise.all(writers.map((sql) => sql`select 1`))
      const singles = writers.slice(1).map(async (sql, w) => {
        for (let i = 0; i < 150; i++) {
          await sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, ${`w${w}`}, 'W', ${`single ${i}`})`
        }
      })
      const bulks = (async () => {
        for (let i = 0; i < 4; i++) {
          await writers[0]!`
            insert into messages (room_id, user_id, user_name, body)
            select ${roomId}, 'bulk', 'Bulk', 'bulk ' || g from generate_series(1, 2500) g`
        }
      })()
      await Promise.all([...singles, bulks])
    } finally {
      await Promise.all(writers.map((sql) => sql.end()))
    }
    const total = 3 * 150 + 4 * 2500
    expect(await seqsAndCursors(roomId)).toEqual({ seqs: range(1, total), cursors: range(1, total) })
    expect(await roomState(roomId)).toMatchObject({ lastSeq: total, lastCursor: total, messageCount: total })
    await stream.waitFor(total, 60_000)
    expect(stream.seqs()).toEqual(range(1, total))
  }, 180_000)

  it('takes each cursor once in a transaction that inserts, edits, reacts and inserts again', async () => {
    const roomId = await newRoom()
    const stream = await subscribe(roomId)
    await database.sql.begin(async (tx) => {
      await tx`insert into messages (room_id, user_id, user_name, body)
               select ${roomId}, 'ops', 'Ops', 'first ' || g from generate_series(1, 100) g`
      await tx`update messages set body = 'edited' where room_id = ${roomId} and seq = 50`
      await tx`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 60, 'ops', '👍')`
      await tx`insert into messages (room_id, user_id, user_name, body)
               select ${roomId}, 'ops', 'Ops', 'second ' || g from generate_series(1, 100) g`
      await tx`delete from messages where room_id = ${roomId} and seq = 70`
      await tx`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'last')`
    })
    // 100 inserts, an edit, a reaction, 100 inserts, a delete, an insert: 204 cursors.
    expect(await cursors(roomId)).toEqual(range(1, 204))
    const { seqs } = await seqsAndCursors(roomId)
    expect(seqs).toEqual(range(1, 201).filter((seq) => seq !== 70))
    expect(await roomState(roomId)).toMatchObject({ lastSeq: 201, lastCursor: 204, messageCount: 200 })
    await until(() => stream.changes.length >= 204, 'every change on the stream', 30_000)
    expect(stream.changes.map((change) => Number(change.id))).toEqual(range(1, 204))
  }, 60_000)

  it('takes each cursor once over single-row statements of one transaction, between other changes', async () => {
    const [roomId, otherId] = [await newRoom(), await newRoom()]
    await insertOne(roomId, 'before')
    await database.sql.begin(async (tx) => {
      const one = (room: number, body: string) =>
        tx`insert into messages (room_id, user_id, user_name, body) values (${room}, 'ops', 'Ops', ${body})`
      await one(roomId, 'a')
      await one(otherId, 'b')
      await one(roomId, 'c')
      await tx`insert into message_reactions (room_id, seq, user_id, emoji) values (${roomId}, 2, 'ops', '👍')`
      await one(roomId, 'd')
      await tx`update messages set body = 'edited' where room_id = ${roomId} and seq = 1`
      await one(roomId, 'e')
      await one(otherId, 'f')
      await tx`delete from messages where room_id = ${roomId} and seq = 4`
      await one(roomId, 'g')
    })
    // before, a, c, a reaction, d, an edit, e, a delete (of d), g: nine cursors, five messages left.
    expect(await cursors(roomId)).toEqual(range(1, 9))
    expect(await roomState(roomId)).toMatchObject({
      lastSeq: 6,
      lastCursor: 9,
      messageCount: 5,
      atNewest: true,
    })
    expect(await roomState(otherId)).toMatchObject({
      lastSeq: 2,
      lastCursor: 2,
      messageCount: 2,
      atNewest: true,
    })
  })

  it('tells the other member of a direct message of every single-row insert of one transaction', async () => {
    const [dm] = await database.sql<{ id: string }[]>`
      insert into rooms (name, created_by, kind, visibility, dm_low, dm_high)
      values ('dm', 'ada', 'dm', 'private', 'ada', 'bob') returning id`
    const roomId = Number(dm?.id)
    await database.sql`insert into room_members (room_id, user_id) values (${roomId}, 'ada'), (${roomId}, 'bob')`
    await database.sql.begin(async (tx) => {
      for (const body of ['one', 'two', 'three'])
        await tx`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ada', 'Ada', ${body})`
    })
    const events = await database.sql<{ seq: string }[]>`
      select seq from user_events where user_id = 'bob' and room_id = ${roomId} and kind = 'dm' order by cursor`
    expect(events.map((event) => Number(event.seq))).toEqual([1, 2, 3])
  })

  it('takes each cursor once in one statement that inserts messages and edits one of the room', async () => {
    const roomId = await newRoom()
    await insertOne(roomId)
    await database.sql`
      with added as (
        insert into messages (room_id, user_id, user_name, body)
        select ${roomId}, 'ops', 'Ops', 'with ' || g from generate_series(1, 20) g returning seq
      ), edited as (
        update messages set body = 'edited alongside' where room_id = ${roomId} and seq = 1 returning seq
      )
      select (select count(*) from added) as added, (select count(*) from edited) as edited`
    expect(await cursors(roomId)).toEqual(range(1, 22))
    expect(await roomState(roomId)).toMatchObject({ lastSeq: 21, lastCursor: 22, messageCount: 21 })
  })

  it('records the mentions and user events of every row of a statement that names someone', async () => {
    const roomId = await newRoom()
    await database.sql`insert into room_members (room_id, user_id) values (${roomId}, 'dana')`
    await database.sql`
      insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, 'ops', 'Ops', case when g % 2 = 0 then 'hi @dana ' || g else 'plain ' || g end
        from generate_series(1, 1000) g`
    const [named] = await database.sql<{ mentions: string; events: string; cursor: string }[]>`
      select (select count(*) from message_mentions where room_id = ${roomId} and user_id = 'dana') as mentions,
             (select count(*) from user_events where room_id = ${roomId} and user_id = 'dana' and kind = 'mention') as events,
             (select last_cursor from user_feeds where user_id = 'dana') as cursor`
    expect(named).toEqual({ mentions: '500', events: '500', cursor: '501' })
  })
})
