import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'

// In a public room anyone may read, so "may read the room" alone would turn any string
// after '@' into a mention, a user event and a user_feeds row. Only people the room knows
// (members, those with a read mark, which every poster has) are mentioned.

const { server, database } = useTestServer()

const ghostRows = async () => {
  const [counts] = await database.sql<{ feeds: string; events: string; mentions: string }[]>`
    select (select count(*) from user_feeds where user_id like 'ghost%') as feeds,
           (select count(*) from user_events where user_id like 'ghost%') as events,
           (select count(*) from message_mentions where user_id like 'ghost%') as mentions`
  return counts
}

describe('mentions in a public room', () => {
  it('record nothing for 60 unknown names in a post and 40 more in its edits', async () => {
    const roomId = await createRoom(server, 'ghost-town')
    const body = Array.from({ length: 60 }, (_, i) => `@ghost${i}`).join(' ')
    const response = await postMessage(server, roomId, body)
    expect(response.status).toBe(201)
    const { seq, mentions } = (await response.json()) as { seq: number; mentions: string[] }
    expect(mentions).toEqual([])
    for (let i = 0; i < 40; i++) {
      const edit = await server.request(`/rooms/${roomId}/messages/${seq}`, {
        method: 'PATCH',
        body: JSON.stringify({ body: `now @ghost-edit${i}` }),
      })
      expect(edit.status).toBe(200)
    }
    expect(await ghostRows()).toEqual({ feeds: '0', events: '0', mentions: '0' })
  })

  it('still reach members, readers and posters of the room', async () => {
    const roomId = await createRoom(server, 'known-names')
    await server.request(`/rooms/${roomId}/join`, { method: 'POST', as: 'member-mo' })
    await postMessage(server, roomId, 'first', 'poster-po')
    await postMessage(server, roomId, 'second')
    const read = await server.request(`/rooms/${roomId}/read`, {
      method: 'POST',
      body: JSON.stringify({ seq: 1 }),
      as: 'reader-re',
    })
    expect(read.status).toBe(200)
    const response = await postMessage(server, roomId, '@member-mo @poster-po @reader-re @stranger-st')
    const { mentions } = (await response.json()) as { mentions: string[] }
    expect(mentions).toEqual(['member-mo', 'poster-po', 'reader-re'])
    const events = await database.sql<{ user_id: string }[]>`
      select user_id from user_events where kind = 'mention' and room_id = ${roomId} order by user_id`
    expect(events.map((row) => row.user_id)).toEqual(['member-mo', 'poster-po', 'reader-re'])
  })
})
