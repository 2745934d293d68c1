// The lobby: the rooms the user may see, with unread counts, and the create-room form.

import { api } from './api.js'
import { byId, h, showError, timeElement } from './ui.js'

/** Shows the first page of rooms; "More rooms" appends the next page while there is one. */
export async function showLobby() {
  const list = byId('room-list')
  const empty = byId('lobby-empty')
  const error = byId('lobby-error')
  const more = byId('more-rooms')
  showError(error, '')
  const load = async (cursor) => {
    const page = await api(cursor ? `/rooms?cursor=${encodeURIComponent(cursor)}` : '/rooms')
    const items = page.rooms.map(roomItem)
    if (cursor) list.append(...items)
    else list.replaceChildren(...items)
    more.hidden = !page.next_cursor
    more.onclick = () => load(page.next_cursor).catch(fail)
    return page
  }
  const fail = (failure) => showError(error, `Could not load the rooms: ${failure.message}`)
  try {
    const first = await load(undefined)
    empty.hidden = first.rooms.length > 0
  } catch (failure) {
    fail(failure)
  }
}

function roomItem(room) {
  const unread = room.unread_count
  return h(
    'li',
    { class: 'room-item' },
    h(
      'a',
      { href: `#/rooms/${room.id}` },
      h('span', { class: 'room-name', text: room.name }),
      room.visibility === 'private' ? h('span', { class: 'tag', text: 'private' }) : null,
      unread > 0 ? h('span', { class: 'badge', text: `${unread > 99 ? '99+' : unread} unread` }) : null,
    ),
    h(
      'span',
      { class: 'room-meta' },
      room.last_message_at ? ['last message ', timeElement(room.last_message_at)] : 'no messages yet',
    ),
  )
}

/** Wires the create-room form once: a new room opens straight away. */
export function wireCreateRoom() {
  const form = byId('create-room')
  const error = byId('create-error')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const data = new FormData(form)
    showError(error, '')
    try {
      const room = await api('/rooms', {
        method: 'POST',
        body: {
          name: String(data.get('name') ?? ''),
          visibility: String(data.get('visibility') ?? 'public'),
        },
      })
      form.reset()
      window.location.hash = `#/rooms/${room.id}`
    } catch (failure) {
      showError(error, failure)
    }
  })
}
