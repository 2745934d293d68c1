// @ts-check
// Who is here, who is typing, who has read what: the room's ephemeral state, rendered
// into the room view. Names come from whatever told us about a user last.

import { client } from './api.js'
import { h, listNames, typingText } from './ui.js'

/** @typedef {import('./parley-client.js').ParleyEvents} ParleyEvents */
/** @typedef {Pick<ParleyEvents['presence'], 'count'> & Partial<ParleyEvents['presence']>} PresenceChange */

/** An "on" is repeated this often while typing continues; the server passes one per 2 s. */
const TYPING_REPEAT_MS = 3_000
/** Typing stops by itself after this long without a keystroke. */
const TYPING_IDLE_MS = 4_000
/** A typist we hear nothing more from is dropped after this: a lost "off" clears itself. */
const TYPING_WATCHDOG_MS = 6_000

/**
 * Sends typing on/off for the signed-in user, throttled; failures are ignored (it is a hint).
 * @param {number} roomId
 */
export function createTypingSender(roomId) {
  let on = false
  let lastOnAt = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let idleTimer

  /** @param {'on' | 'off'} state */
  const send = (state) => client.rooms.typing(roomId, state).catch(() => {})

  function stop() {
    clearTimeout(idleTimer)
    if (!on) return
    on = false
    send('off')
  }

  /** @param {string} text */
  function input(text) {
    clearTimeout(idleTimer)
    if (!text.trim()) return stop()
    if (!on || Date.now() - lastOnAt >= TYPING_REPEAT_MS) {
      on = true
      lastOnAt = Date.now()
      send('on')
    }
    idleTimer = setTimeout(stop, TYPING_IDLE_MS)
  }

  return { input, stop }
}

/**
 * The "alice is typing…" line, fed by typing events and cleared by messages and a watchdog.
 * @param {HTMLElement} element
 */
export function createTypingIndicator(element) {
  /** @type {Map<string, { name: string, timer: ReturnType<typeof setTimeout> }>} */
  const typists = new Map()

  function render() {
    element.textContent = typingText([...typists.values()].map((typist) => typist.name))
  }

  /** @param {string} userId */
  function remove(userId) {
    const typist = typists.get(userId)
    if (!typist) return
    clearTimeout(typist.timer)
    typists.delete(userId)
    render()
  }

  /** @param {ParleyEvents['typing']} event */
  function update({ user_id, user_name, state }) {
    clearTimeout(typists.get(user_id)?.timer)
    if (state !== 'on') return remove(user_id)
    typists.set(user_id, { name: user_name, timer: setTimeout(() => remove(user_id), TYPING_WATCHDOG_MS) })
    render()
  }

  function clear() {
    for (const typist of typists.values()) clearTimeout(typist.timer)
    typists.clear()
    render()
  }

  return { update, remove, clear }
}

/**
 * The "Here now" list: a snapshot from REST on every (re)connect, then join/leave events.
 * Events that arrive while a snapshot is on its way are applied again on top of it, since
 * the snapshot may have been taken before them.
 *
 * @param {HTMLElement} element
 * @param {string} me
 * @param {Map<string, string>} names every user id's latest display name
 * @param {() => void} [onStale]
 */
export function createPresenceList(element, me, names, onStale) {
  /** @type {Map<string, string>} */
  const present = new Map()
  /** @type {PresenceChange[] | undefined} */
  let sinceRequest
  // How many are here on every instance: above the server's PRESENCE_LIST_MAX its frames
  // carry only this, and the list shows who was here when the page loaded.
  let count = 0

  function render() {
    const users = [...present].sort((a, b) => a[1].localeCompare(b[1]))
    const others = count - users.length
    element.replaceChildren(
      ...users.map(([userId, name]) =>
        h('li', { 'data-user-id': userId }, name, userId === me ? h('span', { text: ' (you)' }) : null),
      ),
      ...(others > 0 ? [h('li', { class: 'hint', text: `and ${others} more` })] : []),
    )
  }

  /**
   * A presence frame: who came, who went, how many are here now.
   * @param {PresenceChange} change
   */
  function apply({ joined = [], left = [], count: here }) {
    // A frame with the count only (a crowd came or went): the list is fetched anew while
    // it is small enough to show.
    if (joined.length + left.length === 0 && here !== present.size && here <= 200) onStale?.()
    for (const user of joined) {
      present.set(user.user_id, user.user_name)
      names.set(user.user_id, user.user_name)
    }
    for (const user of left) present.delete(user.user_id)
    if (typeof here === 'number') count = here
  }

  return {
    /** Call when requesting a snapshot; `reset` (or `reset()` on failure) ends it. */
    requested() {
      sinceRequest = []
    },
    /**
     * @param {import('./parley-client.js').Presence['users']} [users]
     * @param {number} [here]
     */
    reset(users, here) {
      if (users) {
        present.clear()
        apply({ joined: users, count: here ?? users.length })
        for (const event of sinceRequest ?? []) apply(event)
      }
      sinceRequest = undefined
      render()
    },
    /** @param {PresenceChange} event */
    update(event) {
      sinceRequest?.push(event)
      apply(event)
      render()
    },
  }
}

/**
 * "seen by …" under the last shown message each other user has read up to.
 * `messages.seqs` is the sorted list of shown seqs, `messages.item(seq)` its <li>.
 *
 * @param {{ seqs: number[], item: (seq: number) => HTMLElement | undefined }} messages
 * @param {string} me
 * @param {Map<string, string>} names
 */
export function createReceipts(messages, me, names) {
  /** @type {Map<string, number>} */
  const marks = new Map()
  /** @type {HTMLElement[]} */
  let shown = []

  function render() {
    for (const element of shown) element.remove()
    shown = []
    /** @type {Map<number, string[]>} */
    const bySeq = new Map()
    for (const [userId, seq] of marks) {
      const target = lastShownAtOrBefore(messages.seqs, seq)
      if (userId === me || target === undefined) continue
      bySeq.set(target, [...(bySeq.get(target) ?? []), names.get(userId) ?? userId])
    }
    for (const [seq, readers] of bySeq) {
      const receipt = h('p', { class: 'receipt', text: `seen by ${listNames(readers.sort())}` })
      messages.item(seq)?.append(receipt)
      shown.push(receipt)
    }
  }

  return {
    render,
    /**
     * Marks only move forward, so a snapshot older than some events changes nothing.
     * @param {Pick<import('./parley-client.js').ReadMark, 'user_id' | 'seq'>[]} reads
     */
    reset(reads) {
      for (const read of reads)
        if (read.seq > (marks.get(read.user_id) ?? 0)) marks.set(read.user_id, read.seq)
      render()
    },
    /** @param {ParleyEvents['read']} read */
    update({ user_id, seq }) {
      if ((marks.get(user_id) ?? 0) >= seq) return
      marks.set(user_id, seq)
      render()
    },
  }
}

/**
 * @param {number[]} seqs ascending
 * @param {number} seq
 */
function lastShownAtOrBefore(seqs, seq) {
  let low = 0
  let high = seqs.length
  while (low < high) {
    const middle = (low + high) >> 1
    if (seqs[middle] <= seq) low = middle + 1
    else high = middle
  }
  return low > 0 ? seqs[low - 1] : undefined
}
