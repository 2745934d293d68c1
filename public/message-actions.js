// @ts-check
// What the buttons on a message do: react (from the picker or by toggling a chip), reply,
// edit, delete, report, and follow a reply's quote. Every change goes to the server and comes back
// on the stream like anyone else's, so all tabs show it the same way; a refusal (a 403 on
// someone else's message, a 409 on a deleted one) is shown as the server worded it.

import { ApiError, client } from './api.js'
import { showError } from './ui.js'

/**
 * Wires the buttons of the list `list` (see message-view.js) until `signal` aborts.
 *
 * @param {HTMLElement} list
 * @param {object} options
 * @param {number} options.roomId
 * @param {string} options.me
 * @param {ReturnType<typeof import('./messages.js').createMessageList>} options.messages
 * @param {ReturnType<typeof import('./composer.js').wireComposer>} options.composer
 * @param {HTMLElement} options.error
 * @param {(seq: number) => Promise<void>} options.showMessage
 * @param {(message: import('./parley-client.js').Message) => void} options.report
 * @param {AbortSignal} options.signal
 */
export function wireMessageActions(
  list,
  { roomId, me, messages, composer, error, showMessage, report, signal },
) {
  /**
   * @param {string} what
   * @param {() => Promise<unknown>} action
   */
  async function attempt(what, action) {
    showError(error, '')
    try {
      await action()
    } catch (failure) {
      if (signal.aborted) return
      const wait =
        failure instanceof ApiError && failure.retryAfter ? ` (try again in ${failure.retryAfter} s)` : ''
      const reason = failure instanceof Error ? failure.message : String(failure)
      showError(error, `Could not ${what}: ${reason}${wait}`)
    }
  }

  /**
   * @param {number} seq
   * @param {string} emoji
   * @param {boolean} on
   */
  async function setReaction(seq, emoji, on) {
    await (on ? client.reactions.add(roomId, seq, emoji) : client.reactions.remove(roomId, seq, emoji))
    // Known from our own answer at once; the stream's event says the same again.
    messages.setMine(seq, emoji, on)
  }

  /**
   * The emoji we reacted to `seq` with, read through every page of its reactions.
   * @param {number} seq
   */
  async function ourReactions(seq) {
    /** @type {string[]} */
    const ours = []
    /** @type {string | null} */
    let cursor = null
    do {
      const page = await client.reactions.list(roomId, seq, { limit: 500, cursor })
      for (const reaction of page.reactions) if (reaction.user_id === me) ours.push(reaction.emoji)
      cursor = page.next_cursor
    } while (cursor)
    return ours
  }

  /**
   * A chip toggles our reaction: whether we have it is fetched once when not yet known.
   * @param {number} seq
   * @param {string} emoji
   */
  async function toggle(seq, emoji) {
    if (!messages.mine(seq)) messages.learnMine(seq, await ourReactions(seq))
    await setReaction(seq, emoji, !messages.mine(seq)?.has(emoji))
  }

  /**
   * Delete asks once more on the same button before it deletes; leaving the button disarms it.
   * @param {HTMLElement} button
   * @param {number} seq
   */
  function remove(button, seq) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true'
      button.textContent = 'Confirm delete'
      return
    }
    void attempt('delete the message', () => client.messages.delete(roomId, seq))
  }

  /**
   * @param {HTMLElement} item
   * @param {boolean} open
   */
  function togglePicker(item, open) {
    const picker = /** @type {HTMLElement | null} */ (item.querySelector('.picker'))
    if (!picker) return
    picker.hidden = !open
    if (open) picker.querySelector('button')?.focus()
    else /** @type {HTMLElement | null} */ (item.querySelector('[data-action="pick"]'))?.focus()
  }

  /**
   * The message's <li> that `target` is inside, and the action button it is, if any.
   * @param {EventTarget | null} target
   */
  function buttonOf(target) {
    const button = target instanceof Element ? target.closest('button[data-action]') : null
    const item = button?.closest('li[data-seq]')
    return button instanceof HTMLButtonElement && item instanceof HTMLElement ? { button, item } : undefined
  }

  list.addEventListener(
    'click',
    (event) => {
      const found = buttonOf(event.target)
      if (!found) return
      const { button, item } = found
      const seq = Number(item.dataset.seq)
      const message = messages.message(seq)
      const emoji = button.dataset.emoji ?? ''
      switch (button.dataset.action) {
        case 'quote':
          return void showMessage(Number(button.dataset.target))
        case 'pick':
          return togglePicker(
            item,
            /** @type {HTMLElement | null} */ (item.querySelector('.picker'))?.hidden ?? false,
          )
        case 'react':
          togglePicker(item, false)
          return void attempt('react', () => setReaction(seq, emoji, true))
        case 'toggle':
          return void attempt('change your reaction', () => toggle(seq, emoji))
        case 'reply':
          return message && composer.replyTo(message)
        case 'edit':
          return message && composer.edit(message)
        case 'delete':
          return remove(button, seq)
        case 'report':
          return message && report(message)
      }
    },
    { signal },
  )
  list.addEventListener(
    'focusout',
    (event) => {
      const target = event.target
      if (!(target instanceof HTMLElement) || target.dataset.armed !== 'true') return
      target.dataset.armed = 'false'
      target.textContent = 'Delete'
    },
    { signal },
  )
  list.addEventListener(
    'keydown',
    (event) => {
      const item = event.target instanceof Element ? event.target.closest('li[data-seq]') : null
      const picker = item?.querySelector('.picker')
      if (
        event.key === 'Escape' &&
        item instanceof HTMLElement &&
        picker instanceof HTMLElement &&
        !picker.hidden
      )
        togglePicker(item, false)
    },
    { signal },
  )
}
