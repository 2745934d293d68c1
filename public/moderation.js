// @ts-check
// Moderation in the room view: anyone may report a message (a reason, then Report); the
// room's owners and moderators also get the Moderation panel, with the members to mute or
// ban, who is banned, and the open reports to dismiss or act on. The server decides every
// call (docs/moderation.md); this only offers the buttons and says what it answered.

import { client } from './api.js'
import { excerpt } from './message-view.js'
import { h, showError } from './ui.js'

/** @typedef {import('./parley-client.js').Message} Message */
/** @typedef {{ user_id: string, role: 'owner' | 'moderator' | 'member' }} Member */
/** @typedef {{ user_id: string, until: string | null, reason: string | null }} Restriction */
/** @typedef {{ id: number, seq: number, author_id: string, body: string, reporter_id: string, reason: string }} Report */

/**
 * @param {object} view
 * @param {HTMLElement} view.panel the Moderation panel, shown to owners and moderators
 * @param {HTMLElement} view.members
 * @param {HTMLElement} view.banned
 * @param {HTMLElement} view.reports
 * @param {HTMLElement} view.reportsEmpty
 * @param {HTMLElement} view.refresh
 * @param {HTMLElement} view.error
 * @param {{ line: HTMLElement, text: HTMLElement, reason: HTMLInputElement, send: HTMLElement, cancel: HTMLElement, done: HTMLElement }} view.reporting
 * @param {object} options
 * @param {number} options.roomId
 * @param {string} options.me
 * @param {AbortSignal} options.signal
 */
export function wireModeration(view, { roomId, me, signal }) {
  /** @type {Member['role'] | null} */
  let role = null
  /** @type {Message | undefined} */
  let reported
  const base = `/rooms/${roomId}`

  /** @param {Member} member */
  function mayActOn(member) {
    return (
      member.user_id !== me && member.role !== 'owner' && (member.role !== 'moderator' || role === 'owner')
    )
  }

  /**
   * @param {string} action
   * @param {string} label
   * @param {string} target
   */
  const button = (action, label, target) =>
    h('button', {
      type: 'button',
      class: 'secondary small',
      'data-action': action,
      'data-target': target,
      text: label,
    })

  async function loadPeople() {
    const [{ members }, { mutes }, { bans }] = await Promise.all([
      client
        .request('GET', `${base}/members`)
        .then((answer) => /** @type {{ members: Member[] }} */ (answer)),
      client
        .request('GET', `${base}/mutes`)
        .then((answer) => /** @type {{ mutes: Restriction[] }} */ (answer)),
      client.request('GET', `${base}/bans`).then((answer) => /** @type {{ bans: Restriction[] }} */ (answer)),
    ])
    if (signal.aborted) return
    const muted = new Set(mutes.map((mute) => mute.user_id))
    view.members.replaceChildren(
      ...members.map((member) =>
        h(
          'li',
          { 'data-user-id': member.user_id },
          h('span', { class: 'who', text: member.user_id }),
          member.role === 'member' ? null : h('span', { class: 'role', text: member.role }),
          muted.has(member.user_id) ? h('span', { class: 'role', text: 'muted' }) : null,
          mayActOn(member)
            ? [
                muted.has(member.user_id)
                  ? button('unmute', 'Unmute', member.user_id)
                  : button('mute', 'Mute', member.user_id),
                button('ban', 'Ban', member.user_id),
              ]
            : null,
        ),
      ),
    )
    view.banned.replaceChildren(
      ...bans.map((ban) =>
        h(
          'li',
          { 'data-user-id': ban.user_id },
          h('span', { class: 'who', text: ban.user_id }),
          button('unban', 'Unban', ban.user_id),
        ),
      ),
    )
  }

  async function loadReports() {
    const { reports } = /** @type {{ reports: Report[] }} */ (await client.request('GET', `${base}/reports`))
    if (signal.aborted) return
    view.reportsEmpty.hidden = reports.length > 0
    view.reports.replaceChildren(
      ...reports.map((report) =>
        h(
          'li',
          { 'data-report-id': report.id },
          h('span', { class: 'who', text: `${report.reporter_id} reported ${report.author_id}:` }),
          ' ',
          h('q', { class: 'reported', text: excerpt(report.body) }),
          ' ',
          h('span', { class: 'reason', text: `(${report.reason})` }),
          button('dismiss', 'Dismiss', String(report.id)),
          button('actioned', 'Done', String(report.id)),
        ),
      ),
    )
  }

  /**
   * @param {string} what
   * @param {() => Promise<unknown>} action
   */
  async function attempt(what, action) {
    showError(view.error, '')
    try {
      await action()
    } catch (failure) {
      if (!signal.aborted)
        showError(view.error, `Could not ${what}: ${failure instanceof Error ? failure.message : failure}`)
    }
  }

  /** @type {Record<string, (target: string) => Promise<unknown>>} */
  const actions = {
    mute: (user) => client.request('PUT', `${base}/mutes/${encodeURIComponent(user)}`, { body: {} }),
    unmute: (user) => client.request('DELETE', `${base}/mutes/${encodeURIComponent(user)}`),
    ban: (user) => client.request('PUT', `${base}/bans/${encodeURIComponent(user)}`, { body: {} }),
    unban: (user) => client.request('DELETE', `${base}/bans/${encodeURIComponent(user)}`),
    dismiss: (id) =>
      client.request('POST', `${base}/reports/${id}/resolve`, { body: { resolution: 'dismissed' } }),
    actioned: (id) =>
      client.request('POST', `${base}/reports/${id}/resolve`, { body: { resolution: 'actioned' } }),
  }

  view.panel.addEventListener(
    'click',
    (event) => {
      const target = event.target instanceof Element ? event.target.closest('button[data-action]') : null
      if (!(target instanceof HTMLButtonElement)) return
      const run = actions[target.dataset.action ?? '']
      if (!run) return
      const subject = target.dataset.target ?? ''
      void attempt(`${target.textContent?.toLowerCase()} ${subject}`, async () => {
        await run(subject)
        await Promise.all([loadPeople(), loadReports()])
      })
    },
    { signal },
  )
  view.refresh.addEventListener('click', () => void attempt('load the reports', loadReports), { signal })

  function stopReporting() {
    reported = undefined
    view.reporting.line.hidden = true
    view.reporting.reason.value = ''
  }

  async function sendReport() {
    const message = reported
    const reason = view.reporting.reason.value.trim()
    if (!message || !reason) return view.reporting.reason.focus()
    await attempt('report the message', async () => {
      await client.request('POST', `${base}/messages/${message.seq}/reports`, { body: { reason } })
      stopReporting()
      view.reporting.done.textContent = `Reported ${message.user_name}'s message to the room's moderators.`
    })
  }

  view.reporting.send.addEventListener('click', () => void sendReport(), { signal })
  view.reporting.cancel.addEventListener('click', stopReporting, { signal })
  view.reporting.reason.addEventListener(
    'keydown',
    (event) => {
      // The reason sits in the send form: Enter reports instead of sending a message.
      if (event.key === 'Enter') {
        event.preventDefault()
        void sendReport()
      } else if (event.key === 'Escape') stopReporting()
    },
    { signal },
  )
  stopReporting()
  view.reporting.done.textContent = ''
  view.panel.hidden = true

  return {
    /**
     * The caller's role in the room: owners and moderators get the panel.
     * @param {Member['role'] | null} value
     */
    setRole(value) {
      role = value
      view.panel.hidden = role !== 'owner' && role !== 'moderator'
      if (!view.panel.hidden)
        void attempt('load the moderation panel', () => Promise.all([loadPeople(), loadReports()]))
    },
    /**
     * Asks for a reason to report `message` with.
     * @param {Message} message
     */
    report(message) {
      reported = message
      view.reporting.done.textContent = ''
      view.reporting.text.textContent = `Report ${message.user_name}'s message “${excerpt(message.body)}” because:`
      view.reporting.line.hidden = false
      view.reporting.reason.focus()
    },
  }
}
