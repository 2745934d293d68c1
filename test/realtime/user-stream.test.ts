import { EventSource } from 'eventsource'
import { describe, expect, it } from 'vitest'
import { expectError } from '../support/api.js'
import { useTestServer } from '../support/fixtures.js'
import { until } from '../support/wait.js'

// GET /me/stream (src/realtime/user-feed.ts, sql/user-events.sql): one person's events
// across rooms, numbered per user by the database, live and resumable.

const { server, database } = useTestServer()

interface UserEvent {
  type: string
  id: string
  data: {
    room?: { id: number; name: string }
    room_id?: number
    message?: { body: string; seq: number }
    unread_count?: number
    mention_count?: number
  }
}

const TYPES = ['mention', 'dm', 'added', 'removed', 'unread', 'expired', 'shutdown']

function openUserStream(user: string, lastEventId?: number) {
  const events: UserEvent[] = []
  let first = lastEventId
  const source = new EventSource(`${server.url}/me/stream`, {
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${await server.token(user)}`)
      if (first !== undefined) headers.set('last-event-id', String(first))
      first = undefined
      return fetch(input, { ...init, headers })
    },
  })
  for (const type of TYPES) {
    source.addEventListener(type, (event) => {
      events.push({ type, id: event.lastEventId, data: JSON.parse(event.data) as UserEvent['data'] })
    })
  }
  const opened = new Promise<void>((resolve) =>
    source.addEventListener('open', () => resolve(), { once: true }),
  )
  return {
    events,
    opened,
    summary: () =>
      events
        .filter((event) => event.type !== 'unread')
        .map(
          (event) =>
            `${event.id} ${event.type} ${event.data.message?.body ?? event.data.room?.name ?? event.data.room_id}`,
        ),
    close: () => source.close(),
  }
}

async function newRoom(name: string, as: string, visibility: 'public' | 'private' = 'public') {
  const response = await server.request('/rooms', {
    method: 'POST',
    body: JSON.stringify({ name, visibility }),
    as,
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: number }).id
}

const post = (roomId: number, body: string, as: string) =>
  server.request(`/rooms/${roomId}/messages`, { method: 'POST', body: JSON.stringify({ body }), as })

/** A public room mentions only people it knows: these get a read mark there. */
const knows = (roomId: number, ...users: string[]) =>
  database.sql`insert into room_reads (room_id, user_id, last_read_seq)
                select ${roomId}, unnest(${users}::text[]), 0`

describe('GET /me/stream', () => {
  it('tells its user of mentions, direct messages and being added, live, from HTTP and psql', async () => {
    const stream = openUserStream('uma')
    await stream.opened
    const room = await newRoom('user-stream-live', 'vic')
    await knows(room, 'uma')
    expect((await post(room, 'hello @uma', 'vic')).status).toBe(201)
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${room}, 'ops', 'Ops', 'psql for @uma')`
    const dm = await server.request('/dms', {
      method: 'POST',
      body: JSON.stringify({ user_id: 'uma' }),
      as: 'vic',
    })
    const dmRoom = ((await dm.json()) as { id: number; name: string }).id
    expect((await post(dmRoom, 'psst', 'vic')).status).toBe(201)
    expect((await post(room, 'not about uma', 'vic')).status).toBe(201)
    await until(() => stream.events.length >= 4, 'four events')
    expect(stream.summary()).toEqual([
      '1 mention hello @uma',
      '2 mention psql for @uma',
      `3 added vic & uma`,
      '4 dm psst',
    ])
    expect(stream.events[3]!.data.room?.id).toBe(dmRoom)
    stream.close()
  })

  it('replays exactly what it missed after Last-Event-ID, in order, then goes on live', async () => {
    const room = await newRoom('user-stream-resume', 'wes')
    await knows(room, 'yara')
    const first = openUserStream('yara')
    await first.opened
    expect((await post(room, '@yara one', 'wes')).status).toBe(201)
    await until(() => first.events.length === 1, 'the first mention')
    first.close()
    expect((await post(room, '@yara two', 'wes')).status).toBe(201)
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${room}, 'ops', 'Ops', '@yara n' || g from generate_series(3, 5) g`

    const resumed = openUserStream('yara', Number(first.events[0]!.id))
    await until(() => resumed.events.length === 4, 'the four missed mentions')
    expect((await post(room, '@yara six', 'wes')).status).toBe(201)
    await until(() => resumed.events.length === 5, 'the live mention')
    expect(resumed.summary()).toEqual([
      '2 mention @yara two',
      '3 mention @yara n3',
      '4 mention @yara n4',
      '5 mention @yara n5',
      '6 mention @yara six',
    ])
    resumed.close()
  })

  it('tells a removed member, and never replays what a private room said once they may not read it', async () => {
    const room = await newRoom('user-stream-private', 'zed', 'private')
    const add = await server.request(`/rooms/${room}/members`, {
      method: 'POST',
      body: JSON.stringify({ user_id: 'quin' }),
      as: 'zed',
    })
    expect(add.status).toBe(201)
    expect((await post(room, 'secret for @quin', 'zed')).status).toBe(201)
    expect((await post(room, 'and @stranger', 'zed')).status).toBe(201)
    await database.sql`delete from room_members where room_id = ${room} and user_id = 'quin'`
    // Later mentions in a public room mark the end: anything replayed from the private room comes before them.
    const later = await newRoom('user-stream-later', 'yves')
    await knows(later, 'quin', 'stranger')
    expect((await post(later, 'later, @quin', 'yves')).status).toBe(201)
    expect((await post(later, 'later, @stranger', 'yves')).status).toBe(201)
    const received = (stream: ReturnType<typeof openUserStream>) =>
      stream.events.map((event) => [event.type, event.data.message?.body ?? event.data])

    const replay = openUserStream('quin', 0)
    await until(() => replay.events.some((event) => event.type === 'mention'), 'the later mention of quin')
    expect(received(replay)).toEqual([
      ['removed', { room_id: room }],
      ['mention', 'later, @quin'],
    ])
    replay.close()

    const stranger = openUserStream('stranger', 0)
    await until(() => stranger.events.length >= 1, 'the later mention of the stranger')
    expect(received(stranger)).toEqual([['mention', 'later, @stranger']])
    stranger.close()
  })

  it('loses nothing while its LISTEN connection is down', async () => {
    const room = await newRoom('user-stream-listener', 'abe')
    await knows(room, 'bea')
    const stream = openUserStream('bea')
    await stream.opened
    expect((await post(room, '@bea before', 'abe')).status).toBe(201)
    await until(() => stream.events.length === 1, 'the first mention')
    await database.sql.begin(async (tx) => {
      await tx`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and application_name = 'parley-listener'`
      await tx`insert into messages (room_id, user_id, user_name, body) values (${room}, 'ops', 'Ops', '@bea unheard')`
    })
    await until(() => stream.events.length === 2, 'the mention made while nobody listened', 15_000)
    expect(stream.summary()).toEqual(['1 mention @bea before', '2 mention @bea unheard'])
    stream.close()
  })

  it('pushes unread and mention counts of the rooms its user is a member of as they change', async () => {
    const room = await newRoom('user-stream-unread', 'cy')
    const elsewhere = await newRoom('user-stream-elsewhere', 'cy')
    expect((await server.request(`/rooms/${room}/join`, { method: 'POST', as: 'dee' })).status).toBe(201)
    const stream = openUserStream('dee')
    await stream.opened
    const unread = () =>
      stream.events.filter((event) => event.type === 'unread').map((event) => JSON.stringify(event.data))
    const counts = (unreadCount: number, mentionCount: number) =>
      JSON.stringify({ room_id: room, unread_count: unreadCount, mention_count: mentionCount })

    expect((await post(room, 'first', 'cy')).status).toBe(201)
    await until(() => unread().length === 1, 'the first count')
    expect((await post(elsewhere, 'not a room of dee', 'cy')).status).toBe(201)
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${room}, 'ops', 'Ops', 'for @dee')`
    await until(() => unread().length === 2, 'the count after the psql insert')
    const read = await server.request(`/rooms/${room}/read`, { method: 'POST', body: '{"seq":2}', as: 'dee' })
    expect(read.status).toBe(200)
    await until(() => unread().length === 3, 'the count after reading')
    expect(unread()).toEqual([counts(1, 0), counts(2, 1), counts(0, 0)])
    stream.close()
  })

  it('sends an event that commits the moment its stream is open', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `prompt-${i}`)
    const streams = users.map((user) => {
      const stream = openUserStream(user)
      // The event commits as soon as the client sees the stream open, not a moment later.
      void stream.opened.then(
        () => database.sql`
          with dm as (
            insert into rooms (name, created_by, kind, visibility, dm_low, dm_high)
            values (${`dm-${user}`}, 'a-sender', 'dm', 'private', 'a-sender', ${user}) returning id
          ), members as (
            insert into room_members (room_id, user_id) select id, unnest(array['a-sender', ${user}]) from dm
          ) insert into messages (room_id, user_id, user_name, body)
            select id, 'a-sender', 'Sender', ${`hello ${user}`} from dm`,
      )
      return stream
    })
    try {
      await until(
        () => streams.every((stream) => stream.events.some((event) => event.type === 'dm')),
        'every stream to get its direct message',
        15_000,
      )
    } finally {
      for (const stream of streams) stream.close()
    }
  })

  it('refuses a request without a token and a Last-Event-ID it never sent', async () => {
    await expectError(await fetch(`${server.url}/me/stream`), 401, 'unauthorized')
    for (const bad of ['x', '-1', '1.5', '9'.repeat(16)]) {
      await expectError(
        await server.request('/me/stream', { headers: { 'last-event-id': bad }, as: 'bea' }),
        400,
        'validation_failed',
      )
    }
  })
})
