import type { Message, SearchPage } from '../../src/wire.js'
import { afterEach, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, signTestToken } from '../support/server.js'
import { openStream, type StreamClient } from '../support/sse.js'

// A token may say its holder is a bot (`"bot": true`); every message it posts says so,
// wherever the message is read. Rows inserted with psql are people's unless they say otherwise.
const { server, database } = useTestServer()
const streams: StreamClient[] = []
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close()
})

const botToken = () => signTestToken({ sub: 'deploybot', name: 'Deploy Bot', bot: true })

async function postAs(token: string, roomId: number, body: string): Promise<Message> {
  const response = await server.request(`/rooms/${roomId}/messages`, {
    method: 'POST',
    as: null,
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ body }),
  })
  expect(response.status).toBe(201)
  return (await response.json()) as Message
}

describe('bots', () => {
  it('mark the messages of a bot token, in the answer, the history, the stream and search', async () => {
    const roomId = await createRoom(server, 'with a bot')
    const stream = openStream(server.url, roomId, { token: await server.token('reader') })
    streams.push(stream)
    await stream.opened
    const byBot = await postAs(await botToken(), roomId, 'deployed release seventeen')
    const byPerson = await postAs(await server.token('alice'), roomId, 'thanks, release seventeen looks good')
    const notABot = await postAs(
      await signTestToken({ sub: 'carol', bot: 'yes' }),
      roomId,
      'a string is not true',
    )
    expect([byBot.bot, byPerson.bot, notABot.bot]).toEqual([true, false, false])

    const history = (await (await server.request(`/rooms/${roomId}/messages`)).json()) as {
      messages: Message[]
    }
    expect(history.messages.map((message) => [message.user_id, message.bot])).toEqual([
      ['deploybot', true],
      ['alice', false],
      ['carol', false],
    ])
    await stream.waitFor(3)
    expect(stream.messages.map((message) => message.bot)).toEqual([true, false, false])

    const found = (await (
      await server.request(`/search?q=seventeen&room=${roomId}&sort=recent`)
    ).json()) as SearchPage
    expect(found.results.map((result) => [result.message.user_id, result.message.bot])).toEqual([
      ['alice', false],
      ['deploybot', true],
    ])
  })

  it('keeps the mark through an edit', async () => {
    const roomId = await createRoom(server, 'edited by a bot')
    const token = await botToken()
    const { seq } = await postAs(token, roomId, 'build started')
    const edited = await server.request(`/rooms/${roomId}/messages/${seq}`, {
      method: 'PATCH',
      as: null,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ body: 'build passed' }),
    })
    expect(((await edited.json()) as Message).bot).toBe(true)
  })

  it('takes psql inserts as people, unless they say otherwise', async () => {
    const roomId = await createRoom(server, 'psql bots')
    await database.sql`insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'by hand')`
    await database.sql`
      insert into messages (room_id, user_id, user_name, body, bot) values (${roomId}, 'cron', 'Cron', 'nightly', true)`
    const history = (await (await server.request(`/rooms/${roomId}/messages`)).json()) as {
      messages: Message[]
    }
    expect(history.messages.map((message) => [message.user_id, message.bot])).toEqual([
      ['ops', false],
      ['cron', true],
    ])
  })
})
