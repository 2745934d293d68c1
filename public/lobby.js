// @ts-check
// The lobby: the rooms the user may see with their unread counts and mentions, the direct
// messages with the other person's name, and the forms that create a room or start a
// conversation.

import { client } from './api.js'
import { byId, h, showError, timeElement } from './ui.js'

/** Shows the first page of rooms and of direct messages; "More" appends the next page while there is one. */
export async function showLobby() {
  const error = byId('lobby-error')
  showError(error, '')
  /** @type {Map<number, number>} */
  const mentions = new Map()
  /** @param {LobbyRoom[]} rooms */
  const countMentions = (rooms) => {
    for (const room of rooms) mentions.set(room.id, room.mention_count)
    const total = [...mentions.values()].reduce((sum, n) => sum + n, 0)
    document.title = total > 0 ? `(${total}) Rooms · Parley` : 'Rooms · Parley'
  }
  /** @param {unknown} failure */
  const fail = (failure) =>
    showError(error, `Could not load the rooms: ${failure instanceof Error ? failure.message : failure}`)
  /** @type {{ kind: 'room' | 'dm', list: HTMLElement, more: HTMLElement, empty: HTMLElement }[]} */
  const lists = [
    { kind: 'room', list: byId('room-list'), more: byId('more-rooms'), empty: byId('lobby-empty') },
    { kind: 'dm', list: byId('dm-list'), more: byId('more-dms'), empty: byId('dm-empty') },
  ]
  await Promise.all(
    lists.map(async ({ kind, list, more, empty }) => {
      /**
       * @param {string | null} [cursor]
       * @returns {Promise<import('./parley-client.js').LobbyPage>}
       */
      const load = async (cursor) => {
        const page = await client.rooms.list({ kind, cursor: cursor || undefined })
        const items = page.rooms.map(roomItem)
        if (cursor) list.append(...items)
        else list.replaceChildren(...items)
        countMentions(page.rooms)
        more.hidden = !page.next_cursor
        more.onclick = () => load(page.next_cursor).catch(fail)
        return page
      }
      try {
        const first = await load(undefined)
        empty.hidden = first.rooms.length > 0
      } catch (failure) {
        fail(failure)
      }
    }),
  )
}

/** @typedef {import('./parley-client.js').LobbyRoom} LobbyRoom */

/** @param {number} n */
const count = (n) => (n > 99 ? '99+' : String(n))

/** @param {LobbyRoom} room */
function roomItem(room) {
  const unread = room.unread_count
  const mentions = room.mention_count
  const name = room.other_user ? room.other_user.user_name : room.name
  return h(
    'li',
    { class: 'room-item' },
    h(
      'a',
      { href: `#/rooms/${room.id}` },
      h('span', { class: 'room-name', text: name }),
      room.kind === 'room' && room.visibility === 'private'
        ? h('span', { class: 'tag', text: 'private' })
        : null,
      unread > 0 ? h('span', { class: 'badge', text: `${count(unread)} unread` }) : null,
      mentions > 0
        ? h('span', {
            class: 'badge mention',
            text: `${count(mentions)} ${mentions === 1 ? 'mention' : 'mentions'}`,
          })
        : null,
    ),
    h(
      'span',
      { class: 'room-meta' },
      room.last_message_at ? ['last message ', timeElement(room.last_message_at)] : 'no messages yet',
    ),
  )
}

/** Wires the start-a-conversation form once: the conversation opens straight away. */
export function wireStartDm() {
  const form = byId('start-dm', HTMLFormElement)
  const error = byId('dm-error')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    showError(error, '')
    try {
      const room = await client.dms.open({ user_id: String(new FormData(form).get('user_id') ?? '') })
      form.reset()
      window.location.hash = `#/rooms/${room.id}`
    } catch (failure) {
      showError(error, failure)
    }
  })
}

/** Wires the create-room form once: a new room opens straight away. */
export function wireCreateRoom() {
  const form = byId('create-room', HTMLFormElement)
  const error = byId('create-error')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const data = new FormData(form)
    showError(error, '')
    try {
      const room = await client.rooms.create({
        name: String(data.get('name') ?? ''),
        // The form's radio buttons offer only these two.
        visibility: data.get('visibility') === 'private' ? 'private' : 'public',
      })
      form.reset()
      window.location.hash = `#/rooms/${room.id}`
    } catch (failure) {
      showError(error, failure)
    }
  })
}
