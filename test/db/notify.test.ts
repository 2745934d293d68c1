import { readdir, readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  channels,
  encodeRoomEvent,
  parseMemberNotice,
  parseMessageNotice,
  parseRoomEvent,
  type RoomEvent,
} from '../../src/db/notify.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { until } from '../support/wait.js'

let database: TestDatabase

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  await database?.drop()
})

describe('the channels', () => {
  it('are exactly the ones the triggers in sql/ notify on, besides the events channel', async () => {
    const files = (await readdir('sql')).filter((file) => file.endsWith('.sql'))
    const named = new Set<string>()
    for (const file of files) {
      const text = await readFile(`sql/${file}`, 'utf8')
      for (const match of text.matchAll(/pg_notify\('([a-z_]+)'/g)) named.add(match[1]!)
    }
    expect([...named].sort()).toEqual(
      [channels.members, channels.messages, channels.users, channels.roomLog].sort(),
    )
  })

  it('carry what the triggers send, parsed back to the room and seq or user', async () => {
    const heard: { channel: string; payload: string }[] = []
    for (const channel of [channels.messages, channels.members]) {
      await database.sql.listen(channel, (payload) => heard.push({ channel, payload }))
    }
    const [room] = await database.sql<{ id: string }[]>`
      insert into rooms (name, created_by) values ('notify', 'test') returning id`
    const roomId = Number(room?.id)
    await database.sql`insert into room_members (room_id, user_id) values (${roomId}, 'bob:the:builder')`
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'hi')`
    await database.sql`delete from room_members where room_id = ${roomId} and user_id = 'bob:the:builder'`
    await until(() => heard.length === 2, 'two notifications')
    const message = heard.find((notice) => notice.channel === channels.messages)
    const member = heard.find((notice) => notice.channel === channels.members)
    expect(parseMessageNotice(message!.payload)).toEqual({ roomId, cursor: 1 })
    expect(parseMemberNotice(member!.payload)).toEqual({ roomId, userId: 'bob:the:builder' })
  })
})

describe('payloads', () => {
  it('refuse message notices that are not two ids', () => {
    for (const payload of [
      '7:deleted',
      '',
      '1',
      ':1',
      '1:',
      'a:1',
      '1:b',
      '1:2:3',
      '-1:2',
      '1:1e3',
      '99999999999999999:1',
    ]) {
      expect(parseMessageNotice(payload), payload).toBeUndefined()
    }
  })

  it('round-trip every room event Parley publishes', () => {
    const events: RoomEvent[] = [
      {
        roomId: 1,
        event: 'presence',
        data: { joined: [{ user_id: 'a', user_name: 'A' }], left: [], count: 1 },
      },
      {
        roomId: 2,
        event: 'typing',
        data: { room_id: 2, user_id: 'a', user_name: 'A', state: 'on' },
        exceptUserId: 'a',
      },
      { roomId: 3, event: 'read', data: { room_id: 3, user_id: 'a', seq: 9 } },
    ]
    for (const event of events) expect(parseRoomEvent(encodeRoomEvent(event))).toEqual(event)
  })

  it('refuse unknown event names, other data shapes and extra fields', () => {
    const typing = { room_id: 1, user_id: 'a', user_name: 'A', state: 'on' }
    const forged = [
      'not json',
      'null',
      '[]',
      JSON.stringify({ room_id: 1, event: 'message', data: typing }),
      JSON.stringify({ room_id: 1, event: 'message\nid: 999999', data: typing }),
      JSON.stringify({ room_id: 1, event: 'removed', data: { room_id: 1 } }),
      JSON.stringify({ room_id: 1, event: 'toString', data: typing }),
      JSON.stringify({ room_id: '1', event: 'typing', data: typing }),
      JSON.stringify({ room_id: 1, event: 'typing', data: { ...typing, state: 'maybe' } }),
      JSON.stringify({ room_id: 1, event: 'typing', data: { ...typing, extra: 1 } }),
      JSON.stringify({ room_id: 1, event: 'typing', data: typing, extra: 1 }),
      JSON.stringify({ room_id: 1, event: 'typing', data: typing, except_user_id: 7 }),
    ]
    for (const payload of forged) expect(parseRoomEvent(payload), payload).toBeUndefined()
  })
})
