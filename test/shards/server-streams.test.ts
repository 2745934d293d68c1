import { describe, expect, it } from 'vitest'
import { clusterTestsRun, type Instance } from '../../harness/cluster.js'
import { moveRoom } from '../../src/shards/move.js'
import { expectError } from '../support/api.js'
import { bodiesIn, useShardedServer } from '../support/shards.js'
import { until } from '../support/wait.js'

// Streams of a Parley server with rooms on two PostgreSQL instances of the test's own, named
// by a catalog: each room is read from the shard that holds it, followed when it moves, and
// waited for through its shard's outage while the other shard's rooms go on.

describe.skipIf(!clusterTestsRun())('streams over two shards', () => {
  const { catalog, instances, shardSql, server, placeRoom, insert, stream } = useShardedServer()

  it('streams each room from the shard that holds it, and refuses a room the catalog does not name', async () => {
    const first = await placeRoom()
    const second = await placeRoom()
    expect(new Set([first.shard, second.shard])).toEqual(new Set(['one', 'two']))
    const opened = await stream([first.roomId, second.roomId], 'ann')
    await insert(first.shard, first.roomId, 'on the first')
    await insert(second.shard, second.roomId, 'on the second')
    await until(() => opened.messages.length === 2, 'a message from each shard')
    expect(bodiesIn(opened, first.roomId)).toEqual(['on the first'])
    expect(bodiesIn(opened, second.roomId)).toEqual(['on the second'])

    const missing = await server.request('/stream?rooms=999999', { as: 'ann' })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('room_not_found')
  })

  it('follows a room moved to the other shard while its stream is open: no gap, no repeat, no reload', async () => {
    const moving = await placeRoom()
    const other = moving.shard === 'one' ? 'two' : 'one'
    const opened = await stream([moving.roomId], 'bea')
    for (const body of ['a', 'b', 'c']) await insert(moving.shard, moving.roomId, body)
    await until(() => opened.messages.length === 3, 'the messages before the move')

    await moveRoom(catalog.sql, moving.roomId, other)
    // Written where the room is now, as psql would: the stream hears it from that shard.
    for (const body of ['d', 'e']) await insert(other, moving.roomId, body)
    await until(() => opened.messages.length === 5, 'the messages after the move')
    expect(bodiesIn(opened, moving.roomId)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(opened.seqs()).toEqual([1, 2, 3, 4, 5])
    expect(opened.events.map((event) => event.type)).not.toContain('reload')

    // Posts over HTTP go to the new shard too.
    const posted = await server.request(`/rooms/${moving.roomId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'f' }),
      as: 'bea',
    })
    expect(posted.status).toBe(201)
    await until(() => opened.messages.length === 6, 'the post after the move')
    expect(opened.seqs()).toEqual([1, 2, 3, 4, 5, 6])
  })

  it("lists the people on a moved room's open streams on its new shard, and lets them go from there", async () => {
    const moving = await placeRoom()
    const other = moving.shard === 'one' ? 'two' : 'one'
    const tabs = [await stream([moving.roomId], 'cy'), await stream([moving.roomId], 'cy')]
    const count = async () => {
      const response = await server.request(`/rooms/${moving.roomId}/presence`, { as: 'cy' })
      return ((await response.json()) as { count: number }).count
    }
    await until(async () => (await count()) === 1, 'cy listed before the move')
    await moveRoom(catalog.sql, moving.roomId, other)
    await until(async () => (await count()) === 1, 'cy listed on the new shard')
    // One tab of two closing leaves cy there; the last one takes cy away.
    tabs[0]!.close()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await count()).toBe(1)
    tabs[1]!.close()
    await until(async () => (await count()) === 0, 'cy gone once both tabs closed')
  })

  it('stores every post sent while its room moves, on the new shard, and streams each once in order', async () => {
    const moving = await placeRoom()
    const other = moving.shard === 'one' ? 'two' : 'one'
    // Big enough that the move holds the room's writes for a while (about 0.3 s).
    await shardSql.get(moving.shard)!`
      insert into messages (room_id, user_id, user_name, body)
      select ${moving.roomId}, 'tester', 'Tester', 'old ' || g from generate_series(1, 20000) g`
    const opened = await stream([moving.roomId], 'ned')
    let moved = false
    const statuses: number[] = []
    // Four posters, each within RATE_LIMIT_MESSAGES, posting one after another until the move is done.
    const posting = Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map(async (as) => {
        for (let n = 0; n < 15 && (!moved || n < 3); n++) {
          const response = await server.request(`/rooms/${moving.roomId}/messages`, {
            method: 'POST',
            body: JSON.stringify({ body: `${as} ${n}` }),
            as,
          })
          statuses.push(response.status)
        }
      }),
    )
    await moveRoom(catalog.sql, moving.roomId, other)
    moved = true
    await posting
    expect(statuses.every((status) => status === 201)).toBe(true)
    const [count] = await shardSql.get(other)!<{ n: number }[]>`
      select count(*)::int as n from messages where room_id = ${moving.roomId}`
    expect(count!.n).toBe(20_000 + statuses.length)
    await until(() => opened.messages.length === statuses.length, 'every post streamed')
    expect(opened.seqs()).toEqual(Array.from({ length: statuses.length }, (_, i) => 20_001 + i))
  }, 60_000)

  it("reads a room through its shard's new address once the catalog changes it", async () => {
    const room = await placeRoom('two')
    const opened = await stream([room.roomId], 'kit')
    await insert('two', room.roomId, 'before')
    await until(() => opened.messages.length === 1, 'the message before')
    const [shard] = await catalog.sql<{ url: string }[]>`select url from shards where name = 'two'`
    // The same server by another address: the old pool is ended, the new one opened.
    const [{ now }] = (await shardSql.get('two')!`select now()::text as now`) as [{ now: string }]
    await catalog.sql`update shards set url = ${`${shard!.url}?sslmode=disable`} where name = 'two'`
    try {
      await until(async () => {
        const old = await shardSql.get('two')!`
          select 1 from pg_stat_activity where application_name = 'parley-two' and backend_start < ${now}::timestamptz`
        return old.length === 0
      }, "the old address's pool to be ended")
      await insert('two', room.roomId, 'after')
      await until(() => opened.messages.length === 2, 'the message after')
      expect(bodiesIn(opened, room.roomId)).toEqual(['before', 'after'])
    } finally {
      await catalog.sql`update shards set url = ${shard!.url} where name = 'two'`
    }
  })

  it('says which shard is down, keeps streaming the rooms of the other, and catches the fallen one up once back', async () => {
    const down = await placeRoom('one')
    const up = await placeRoom('two')
    const downInstance = instances[0]!
    // Joined to both rooms: a stream that opens while a shard of its rooms is down is refused
    // (503), and its client tries again.
    const opened = await joinedStream([up.roomId, down.roomId], 'cyd')
    // The instances commit without waiting for the disk; the room must survive the crash.
    await shardSql.get(down.shard)!`checkpoint`
    await downInstance.kill()
    try {
      await until(async () => {
        const body = (await (await fetch(`${server.url}/readyz`)).json()) as {
          status: string
          checks: Record<string, boolean>
        }
        return body.status === 'degraded' && body.checks[`shard ${down.shard}`] === false
      }, 'readiness to name the fallen shard')
      expect((await server.request(`/rooms/${down.roomId}/messages`, { as: 'cyd' })).status).toBe(503)
      expect((await server.request(`/rooms/${up.roomId}/messages`, { as: 'cyd' })).status).toBe(200)
      // What asks every shard cannot answer whole: refused, as on one database that is down.
      for (const path of ['/rooms', '/search?q=hello', '/mentions']) {
        await expectError(await server.request(path, { as: 'cyd' }), 503, 'database_unavailable')
      }
      await insert(up.shard, up.roomId, 'still here')
      await until(() => bodiesIn(opened, up.roomId).length === 1, "the live shard's room")
    } finally {
      await downInstance.resume()
    }
    await until(
      async () =>
        ((await (await fetch(`${server.url}/readyz`)).json()) as { status: string }).status === 'ok',
      'every shard heard again',
      20_000,
    )
    await insert(down.shard, down.roomId, 'back')
    await until(() => bodiesIn(opened, down.roomId).length === 1, "the returned shard's room", 20_000)
    expect(bodiesIn(opened, up.roomId)).toEqual(['still here'])
  }, 60_000)

  it("leaves the streams of a shard that is down alone when another shard's listener comes back", async () => {
    const [onOne, onTwo] = [await placeRoom('one'), await placeRoom('two')]
    const opened = await joinedStream([onOne.roomId, onTwo.roomId], 'lee')
    const [one, two] = instances as [Instance, Instance]
    await shardSql.get('two')!`checkpoint`
    await two.kill()
    try {
      await until(async () => (await readiness())['shard two'] === false, 'shard two reported down')
      // Shard one goes and comes back while shard two is down: its rooms are checked again,
      // and those of shard two, which cannot be asked, are not touched.
      await shardSql.get('one')!`checkpoint`
      await one.kill()
      await until(async () => (await readiness())['shard one'] === false, 'shard one reported down')
      await one.resume()
      await until(async () => (await readiness())['shard one'] === true, 'shard one heard again', 20_000)
      // Delivered after the checks of shard one's rooms, which hold its catch-up back.
      await insert('one', onOne.roomId, 'back on one')
      await until(() => bodiesIn(opened, onOne.roomId).length === 1, 'the room of shard one', 20_000)
      expect(opened.events.map((event) => event.type)).not.toContain('removed')
    } finally {
      await two.resume()
    }
    await until(async () => (await readiness())['shard two'] === true, 'shard two heard again', 20_000)
    await insert('two', onTwo.roomId, 'still yours')
    await until(() => bodiesIn(opened, onTwo.roomId).length === 1, 'the room of shard two', 20_000)
    expect(opened.events.map((event) => event.type)).not.toContain('removed')
  }, 90_000)

  it("goes on delivering one shard's rooms while another shard's rooms are checked again", async () => {
    const [onOne, onTwo] = [await placeRoom('one'), await placeRoom('two')]
    const opened = await joinedStream([onOne.roomId, onTwo.roomId], 'mo')
    // Shard one's access checks wait on a lock, and its LISTEN connection is cut: the checks
    // its return starts hang until the lock goes.
    const blocker = await shardSql.get('one')!.reserve()
    try {
      await blocker`begin`
      await blocker`lock table rooms in access exclusive mode`
      await shardSql.get('one')!`
        select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'parley-listener-one'`
      await until(async () => {
        const [waiting] = await shardSql.get('one')!<{ count: number }[]>`
          select count(*)::int as count from pg_stat_activity
           where wait_event_type = 'Lock' and application_name like 'parley-one%'`
        return waiting!.count > 0
      }, "shard one's checks to wait on the lock")
      await insert('two', onTwo.roomId, 'meanwhile on two')
      await until(() => bodiesIn(opened, onTwo.roomId).length === 1, 'the room of shard two', 3_000)
    } finally {
      await blocker`rollback`
      blocker.release()
    }
    await insert('one', onOne.roomId, 'after on one')
    await until(() => bodiesIn(opened, onOne.roomId).length === 1, 'the room of shard one', 20_000)
    expect(opened.events.map((event) => event.type)).not.toContain('removed')
  }, 60_000)

  /** A stream of `as` on `roomIds`, once the hub has it in each of them. */
  async function joinedStream(roomIds: number[], as: string) {
    const opened = await stream(roomIds, as)
    await until(
      () => roomIds.every((roomId) => server.hub.subscriberCount(roomId) === 1),
      'the stream to join its rooms',
    )
    return opened
  }

  async function readiness(): Promise<Record<string, boolean>> {
    const body = (await (await fetch(`${server.url}/readyz`)).json()) as { checks: Record<string, boolean> }
    return body.checks
  }
})
