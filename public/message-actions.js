// What the buttons on a message do: react (from the picker or by toggling a chip), reply,
// edit, delete, and follow a reply's quote. Every change goes to the server and comes back
// on the stream like anyone else's, so all tabs show it the same way; a refusal (a 403 on
// someone else's message, a 409 on a deleted one) is shown as the server worded it.

import { api } from './api.js'
import { showError } from './ui.js'

/** Wires the buttons of the list `list` (see message-view.js) until `signal` aborts. */
export function wireMessageActions(list, { roomId, me, messages, composer, error, showMessage, signal }) {
  const path = (seq) => `/rooms/${roomId}/messages/${seq}`

  async function attempt(what, action) {
    showError(error, '')
    try {
      await action()
    } catch (failure) {
      if (signal.aborted) return
      const wait = failure.retryAfter ? ` (try again in ${failure.retryAfter} s)` : ''
      showError(error, `Could not ${what}: ${failure.message}${wait}`)
    }
  }

  async function setReaction(seq, emoji, on) {
    await api(`${path(seq)}/reactions/${encodeURIComponent(emoji)}`, { method: on ? 'PUT' : 'DELETE' })
    // Known from our own answer at once; the stream's event says the same again.
    messages.setMine(seq, emoji, on)
  }

  /** A chip toggles our reaction: whether we have it is fetched once when not yet known. */
  async function toggle(seq, emoji) {
    if (!messages.mine(seq)) {
      const { reactions } = await api(`${path(seq)}/reactions`)
      const ours = reactions.filter((reaction) => reaction.user_id === me).map((r) => r.emoji)
      messages.learnMine(seq, ours)
    }
    await setReaction(seq, emoji, !messages.mine(seq).has(emoji))
  }

  /** Delete asks once more on the same button before it deletes; leaving the button disarms it. */
  function remove(button, seq) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true'
      button.textContent = 'Confirm delete'
      return
    }
    void attempt('delete the message', () => api(path(seq), { method: 'DELETE' }))
  }

  function togglePicker(item, open) {
    const picker = item.querySelector('.picker')
    if (!picker) return
    picker.hidden = !open
    if (open) picker.querySelector('button')?.focus()
    else item.querySelector('[data-action="pick"]')?.focus()
  }

  list.addEventListener(
    'click',
    (event) => {
      const button = event.target.closest('button[data-action]')
      const item = button?.closest('li[data-seq]')
      if (!button || !item) return
      const seq = Number(item.dataset.seq)
      const message = messages.message(seq)
      const emoji = button.dataset.emoji
      switch (button.dataset.action) {
        case 'quote':
          return void showMessage(Number(button.dataset.target))
        case 'pick':
          return togglePicker(item, item.querySelector('.picker')?.hidden)
        case 'react':
          togglePicker(item, false)
          return void attempt('react', () => setReaction(seq, emoji, true))
        case 'toggle':
          return void attempt('change your reaction', () => toggle(seq, emoji))
        case 'reply':
          return composer.replyTo(message)
        case 'edit':
          return composer.edit(message)
        case 'delete':
          return remove(button, seq)
      }
    },
    { signal },
  )
  list.addEventListener(
    'focusout',
    (event) => {
      if (event.target.dataset?.armed !== 'true') return
      event.target.dataset.armed = 'false'
      event.target.textContent = 'Delete'
    },
    { signal },
  )
  list.addEventListener(
    'keydown',
    (event) => {
      const item = event.target.closest('li[data-seq]')
      if (event.key === 'Escape' && item && !item.querySelector('.picker')?.hidden) togglePicker(item, false)
    },
    { signal },
  )
}
