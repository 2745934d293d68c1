// @ts-check
// The send box: Enter sends (or saves an edit, or sends a reply), Shift+Enter starts a new
// line, Escape cancels an edit or a reply; typing on/off goes out as the user types; a
// failed send keeps the text and says why.

import { ApiError, client } from './api.js'
import { wireMentionCompletion } from './mention-completion.js'
import { excerpt } from './message-view.js'
import { showError } from './ui.js'

/** @typedef {import('./parley-client.js').Message} Message */
/** @typedef {{ kind: 'edit', message: Message, draft: string } | { kind: 'reply', message: Message }} Mode */

const ATTEMPTS = 3

/**
 * Posts `body`, retrying network and server failures with the same client_id.
 * @param {number} roomId
 * @param {string} body
 * @param {number | null} replyTo
 * @returns {Promise<Message>}
 */
async function postMessage(roomId, body, replyTo) {
  // One client_id for every attempt: a retry after a lost answer returns the original.
  const clientId = newClientId()
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.messages.post(roomId, {
        body,
        client_id: clientId,
        ...(replyTo === null ? {} : { reply_to: replyTo }),
      })
    } catch (error) {
      const retryable = !(error instanceof ApiError) || error.status >= 500
      if (!retryable || attempt === ATTEMPTS) throw error
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt))
    }
  }
}

function newClientId() {
  // randomUUID exists only in secure contexts (https, localhost).
  if (window.crypto?.randomUUID) return window.crypto.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

/**
 * Wires the send form for room `roomId` until `signal` aborts; `onSent(message)` gets each
 * stored message. The form also edits (the Up arrow in an empty box edits `lastOwn()`) and
 * replies: `context` is the line above the box that says which, with its Cancel button.
 * Typing @ offers the room's `members()` to mention (`mentionOptions` is their list).
 * Returns `{ edit(message), replyTo(message), forget(seq) }`.
 *
 * @param {object} view
 * @param {HTMLFormElement} view.form
 * @param {HTMLTextAreaElement} view.input
 * @param {HTMLElement} view.error
 * @param {{ line: HTMLElement, text: HTMLElement, cancel: HTMLElement }} view.context
 * @param {HTMLElement} view.mentionOptions
 * @param {object} options
 * @param {number} options.roomId
 * @param {{ input(text: string): void, stop(): void }} options.typing
 * @param {(message: Message) => void} options.onSent
 * @param {() => Message | undefined} options.lastOwn
 * @param {() => Promise<string[]>} options.members
 * @param {AbortSignal} options.signal
 */
export function wireComposer(
  { form, input, error, context, mentionOptions },
  { roomId, typing, onSent, lastOwn, members, signal },
) {
  // What Enter does besides posting.
  /** @type {Mode | undefined} */
  let mode
  const completion = wireMentionCompletion({ input, list: mentionOptions }, { members, signal })

  /** @param {Mode | undefined} next */
  function setMode(next) {
    mode = next
    context.line.hidden = !mode
    if (mode?.kind === 'edit') context.text.textContent = 'Editing your message (Escape cancels)'
    if (mode?.kind === 'reply')
      context.text.textContent = `Replying to ${mode.message.user_name}: ${excerpt(mode.message.body)}`
  }

  /** @param {Message} message */
  function edit(message) {
    if (message.deleted_at) return
    // What was being written comes back when the edit ends.
    const draft = mode?.kind === 'edit' ? mode.draft : input.value
    typing.stop()
    input.value = message.body
    setMode({ kind: 'edit', message, draft })
    input.focus()
  }

  function cancel() {
    if (mode?.kind === 'edit') input.value = mode.draft
    showError(error, '')
    setMode(undefined)
    input.focus()
  }

  /**
   * @param {Extract<Mode, { kind: 'edit' }>} current
   * @param {string} body
   */
  async function save(current, body) {
    if (body !== current.message.body) await client.messages.edit(roomId, current.message.seq, { body })
    if (mode === current) {
      input.value = current.draft
      setMode(undefined)
    }
  }

  /** @param {string} body */
  async function send(body) {
    const replyTo = mode?.kind === 'reply' ? mode.message.seq : null
    input.value = ''
    typing.stop()
    if (replyTo !== null) setMode(undefined)
    onSent(await postMessage(roomId, body, replyTo))
  }

  form.addEventListener(
    'submit',
    async (event) => {
      event.preventDefault()
      const body = input.value.trim()
      if (!body) return
      const current = mode
      showError(error, '')
      try {
        if (current?.kind === 'edit') await save(current, body)
        else await send(body)
      } catch (failure) {
        if (signal.aborted) return
        const verb = current?.kind === 'edit' ? 'Not saved' : 'Not sent'
        if (current?.kind === 'reply' && !mode) setMode(current)
        if (!input.value) input.value = body
        const wait =
          failure instanceof ApiError && failure.retryAfter ? ` (try again in ${failure.retryAfter} s)` : ''
        const reason = failure instanceof Error ? failure.message : String(failure)
        showError(error, `${verb}: ${reason}${wait}`)
      }
    },
    { signal },
  )
  input.addEventListener(
    'keydown',
    (event) => {
      if (event.isComposing || completion.handleKey(event)) return
      if (event.key === 'Escape' && mode) {
        event.preventDefault()
        cancel()
      } else if (event.key === 'ArrowUp' && input.value === '' && mode?.kind !== 'edit') {
        const message = lastOwn()
        if (!message) return
        event.preventDefault()
        edit(message)
      } else if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault()
        form.requestSubmit()
      }
    },
    { signal },
  )
  input.addEventListener(
    'input',
    () => {
      if (mode?.kind !== 'edit') typing.input(input.value)
    },
    { signal },
  )
  context.cancel.addEventListener('click', cancel, { signal })
  setMode(undefined)

  return {
    edit,
    /** @param {Message} message */
    replyTo(message) {
      if (mode?.kind === 'edit') cancel()
      setMode({ kind: 'reply', message })
      input.focus()
    },
    /** The message being edited or answered was deleted: there is nothing to do with it now. */
    /** @param {number} seq */
    forget(seq) {
      if (mode?.message.seq === seq) cancel()
    },
  }
}
