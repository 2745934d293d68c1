import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  accessFixtures,
  ADMIN,
  MEMBER,
  NOT_FOUND,
  OTHER_MEMBER,
  outcome,
  OWNER,
  tokenFor,
} from '../support/room-access.js'
import { useTestServer } from '../support/fixtures.js'
import { type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'

// Removing a member (src/chat/members.ts): their streams of a room they may no longer read
// close, on every instance. A answers most requests, B holds streams in another process.
const { database, servers } = useTestServer({ instances: 2 })
const [a, b] = servers
const { api, makeRoom, roomIdsSeenBy, memberIds, callEndpoint, insertWithSql, track, closeClients } =
  accessFixtures({ database: () => database, server: () => a })

afterEach(closeClients)

afterAll(async () => {
  closeClients()
})

interface RawStream {
  response: Response
  /** Everything received so far. */
  text: string
  /** The server ended the stream. */
  ended: boolean
  close(): void
}

/** A stream read byte by byte with fetch, because the shared SSE client ignores `event: removed`. */
async function openRawStream(server: TestServer, roomId: number, user: string, headers = {}) {
  const controller = new AbortController()
  const response = await fetch(`${server.url}/rooms/${roomId}/stream`, {
    headers: { authorization: `Bearer ${await tokenFor(user)}`, ...headers },
    signal: controller.signal,
  })
  const stream: RawStream = { response, text: '', ended: false, close: () => controller.abort() }
  track(stream)
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  void (async () => {
    for (;;) {
      const { value, done } = (await reader?.read()) ?? { done: true, value: undefined }
      if (done) break
      stream.text += decoder.decode(value, { stream: true })
    }
    stream.ended = true
  })().catch(() => {}) // aborted by close()
  return stream
}

/**
 * The `message` and `removed` events received, in order. Other events (presence and the
 * like) come and go with other features and say nothing about access.
 */
const accessEvents = (text: string) =>
  [...text.matchAll(/^event: (message|removed)$/gm)].map((match) => match[1])

const removedFrame = (roomId: number) => `event: removed\ndata: {"room_id":${roomId}}\n\n`

describe('removing a member', () => {
  it('closes the removed member’s stream of a private room on another instance with event: removed; the reconnect is 404', async () => {
    const room = await makeRoom('private')
    const stream = await openRawStream(b, room.id, MEMBER)
    expect(stream.response.status).toBe(200)
    await until(() => b.hub.subscriberCount(room.id) === 1, 'the member to subscribe on B')
    expect(
      (await api(OWNER, 'POST', `/rooms/${room.id}/messages`, { body: { body: 'before' } })).status,
    ).toBe(201)
    await until(() => stream.text.includes('id: 1\nevent: message'), 'the first message on B')

    expect((await api(OWNER, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)).status).toBe(204)
    await until(() => stream.ended, 'the stream on B to end', 3_000)
    expect(stream.text.endsWith(removedFrame(room.id))).toBe(true)
    expect(accessEvents(stream.text)).toEqual(['message', 'removed'])
    await until(() => b.hub.subscriberCount(room.id) === 0, 'B to forget the stream', 3_000)

    expect(await outcome(await callEndpoint('GET /rooms/:id/stream', room.id, MEMBER, b))).toBe(NOT_FOUND)
    const again = await api(MEMBER, 'GET', `/rooms/${room.id}/stream`, {
      on: b,
      headers: { 'last-event-id': '1' },
    })
    expect(await outcome(again)).toBe(NOT_FOUND)
    expect(await roomIdsSeenBy(MEMBER)).not.toContain(room.id)
  })

  it('closes the stream the same way when the row is deleted with SQL, on every instance, and only theirs', async () => {
    const room = await makeRoom('private')
    const onA = await openRawStream(a, room.id, MEMBER)
    const onB = await openRawStream(b, room.id, MEMBER)
    const owner = await openRawStream(b, room.id, OWNER)
    await until(() => a.hub.subscriberCount(room.id) === 1 && b.hub.subscriberCount(room.id) === 2)

    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${MEMBER}`
    await until(() => onA.ended && onB.ended, 'both of the member’s streams to end', 3_000)
    expect([onA.text, onB.text].map((text) => text.endsWith(removedFrame(room.id)))).toEqual([true, true])
    await until(() => a.hub.subscriberCount(room.id) === 0 && b.hub.subscriberCount(room.id) === 1)

    await insertWithSql(room.id, 'after the removal')
    await until(() => owner.text.includes('after the removal'), 'the owner’s stream to go on')
    expect(owner.ended).toBe(false)
    expect(accessEvents(owner.text)).toEqual(['message'])
    expect(await outcome(await callEndpoint('GET /rooms/:id', room.id, MEMBER))).toBe(NOT_FOUND)
  })

  it('closes a leaving member’s stream of a private room and hides the room from them', async () => {
    const room = await makeRoom('private')
    const stream = await openRawStream(b, room.id, MEMBER)
    await until(() => b.hub.subscriberCount(room.id) === 1, 'the member to subscribe')
    expect((await api(MEMBER, 'DELETE', `/rooms/${room.id}/members/${MEMBER}`)).status).toBe(204)
    await until(() => stream.ended, 'the stream to end', 3_000)
    expect(stream.text.endsWith(removedFrame(room.id))).toBe(true)
    expect(await memberIds(room.id)).toEqual([OWNER, OTHER_MEMBER])
    expect(await roomIdsSeenBy(MEMBER)).not.toContain(room.id)
  })

  it('does not close their stream of a public room, which they may still read', async () => {
    const open = await makeRoom('public')
    const closed = await makeRoom('private')
    const kept = await openRawStream(b, open.id, MEMBER)
    const ended = await openRawStream(b, closed.id, MEMBER)
    await until(() => b.hub.subscriberCount(open.id) === 1 && b.hub.subscriberCount(closed.id) === 1)

    expect((await api(OWNER, 'DELETE', `/rooms/${open.id}/members/${MEMBER}`)).status).toBe(204)
    expect((await api(OWNER, 'DELETE', `/rooms/${closed.id}/members/${MEMBER}`)).status).toBe(204)
    // Notified in commit order: B got the earlier removal before it acted on the later one.
    await until(() => ended.ended, 'the private room’s stream to end', 3_000)
    expect(
      (await api(OWNER, 'POST', `/rooms/${open.id}/messages`, { body: { body: 'still here' } })).status,
    ).toBe(201)
    await until(() => kept.text.includes('still here'), 'the public room’s message')
    expect(kept.ended).toBe(false)
    expect(accessEvents(kept.text)).toEqual(['message'])
    expect(b.hub.subscriberCount(open.id)).toBe(1)
    expect(await memberIds(open.id)).toEqual([OWNER, OTHER_MEMBER])
  })

  it('does not close an admin’s stream of a private room when the admin stops being a member', async () => {
    const room = await makeRoom('private', { members: [MEMBER, ADMIN] })
    const admin = await openRawStream(b, room.id, ADMIN)
    const member = await openRawStream(b, room.id, MEMBER)
    await until(() => b.hub.subscriberCount(room.id) === 2, 'both to subscribe')

    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${ADMIN}`
    await database.sql`delete from room_members where room_id = ${room.id} and user_id = ${MEMBER}`
    // Notified in commit order: B got the earlier removal before it acted on the later one.
    await until(() => member.ended, 'the member’s stream to end', 3_000)
    await insertWithSql(room.id, 'admins still see this')
    await until(() => admin.text.includes('admins still see this'), 'the message on the admin’s stream')
    expect(admin.ended).toBe(false)
    expect(accessEvents(admin.text)).toEqual(['message'])
  })
})
