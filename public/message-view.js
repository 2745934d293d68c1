// @ts-check
// One message's content: author, time and "edited", the quote of the message it replies
// to, the body (or "message deleted"), reaction chips, its reply count and its actions.
// Rebuilt whole on every change; buttons carry a data-action that one listener on the
// list handles (message-actions.js), so a rebuild leaves no listeners behind.

import { h, timeElement } from './ui.js'

/** @typedef {import('./parley-client.js').Message} Message */

/** The picker's emoji: a handful people reach for most. */
export const PICKER_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '👀']
const EXCERPT_CHARS = 80

/**
 * A body on one line, cut at EXCERPT_CHARS characters (whole code points, never half an emoji).
 * @param {string} body
 */
export function excerpt(body) {
  const chars = Array.from(body.replace(/\s+/g, ' ').trim())
  return chars.length > EXCERPT_CHARS ? `${chars.slice(0, EXCERPT_CHARS - 1).join('')}…` : chars.join('')
}

/**
 * @param {number} count
 * @param {string} one
 * @param {string} many
 */
const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`

/**
 * The content of message `message`'s <li>. `view`: `me`, `canModerate` (may delete anyone's;
 * anyone may report others'),
 * `parent` (the quoted message, null when it cannot be had, undefined while it is fetched)
 * and `mine` (the emoji this user reacted with, undefined until known).
 *
 * @param {Message} message
 * @param {{ me: string, canModerate: boolean, parent: Message | null | undefined, mine: Set<string> | undefined }} view
 */
export function renderContent(message, { me, canModerate, parent, mine }) {
  const deleted = Boolean(message.deleted_at)
  const own = message.user_id === me
  const mentionsMe = !deleted && (message.mentions ?? []).includes(me)
  return h(
    'div',
    { class: mentionsMe ? 'content mentions-me' : 'content' },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'author', text: message.user_name }),
      message.bot ? [' ', h('span', { class: 'bot-badge', title: 'Posted by a bot', text: 'bot' })] : null,
      ' ',
      timeElement(message.created_at),
      message.edited_at && !deleted
        ? [
            ' ',
            h('span', {
              class: 'edited',
              title: new Date(message.edited_at).toLocaleString(),
              text: 'edited',
            }),
          ]
        : null,
    ),
    !message.reply_to ? null : renderQuote(message.reply_to, parent),
    deleted
      ? h('p', { class: 'body deleted', text: 'message deleted' })
      : h('p', { class: 'body', text: message.body }),
    deleted ? null : renderReactions(message.reactions, mine),
    message.reply_count > 0
      ? h('p', { class: 'replies', text: plural(message.reply_count, 'reply', 'replies') })
      : null,
    deleted ? null : renderActions(own, own || canModerate, !own),
  )
}

/**
 * @param {number} parentSeq
 * @param {Message | null | undefined} parent
 */
function renderQuote(parentSeq, parent) {
  let author = ''
  let text = 'an earlier message'
  if (parent === null) text = 'a message that is not available'
  else if (parent?.deleted_at) text = 'message deleted'
  else if (parent) {
    author = parent.user_name
    text = excerpt(parent.body)
  }
  return h(
    'button',
    {
      type: 'button',
      class: 'quote',
      'data-action': 'quote',
      'data-target': parentSeq,
      title: 'Show the message this replies to',
    },
    h('span', { class: 'visually-hidden', text: 'Reply to ' }),
    author ? [h('span', { class: 'quote-author', text: author }), ': '] : null,
    h('span', { class: 'quote-text', text }),
  )
}

/**
 * @param {Message['reactions']} reactions
 * @param {Set<string> | undefined} mine
 */
function renderReactions(reactions, mine) {
  const entries = Object.entries(reactions)
  if (entries.length === 0) return null
  return h(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
    entries.map(([emoji, count]) =>
      h(
        'button',
        {
          type: 'button',
          class: 'chip',
          'data-action': 'toggle',
          'data-emoji': emoji,
          'aria-pressed': mine ? String(mine.has(emoji)) : null,
          title: mine?.has(emoji) ? 'Remove your reaction' : 'React with this too',
        },
        h('span', { class: 'chip-emoji', text: emoji }),
        h('span', { class: 'chip-count', text: String(count) }),
      ),
    ),
  )
}

/**
 * @param {boolean} canEdit
 * @param {boolean} canDelete
 * @param {boolean} canReport
 */
function renderActions(canEdit, canDelete, canReport) {
  /**
   * @param {string} name
   * @param {string} label
   */
  const action = (name, label) =>
    h('button', { type: 'button', class: 'action', 'data-action': name, text: label })
  return h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Message actions' },
    action('pick', 'React'),
    action('reply', 'Reply'),
    canEdit ? action('edit', 'Edit') : null,
    canDelete ? action('delete', 'Delete') : null,
    canReport ? action('report', 'Report') : null,
    h(
      'div',
      { class: 'picker', role: 'group', 'aria-label': 'Pick a reaction', hidden: true },
      PICKER_EMOJI.map((emoji) =>
        h('button', {
          type: 'button',
          class: 'chip',
          'data-action': 'react',
          'data-emoji': emoji,
          'aria-label': `React with ${emoji}`,
          text: emoji,
        }),
      ),
    ),
  )
}
