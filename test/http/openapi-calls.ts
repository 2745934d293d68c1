import type { TestServer } from '../support/server.js'

// How to call each operation of /openapi.json so that it gives each answer it can: what
// test/http/openapi-conformance.test.ts sends. A new operation needs an entry here.

/** The servers and rooms the calls use, filled in once the test file has made them. */
export interface World {
  server: TestServer
  /** Every limit at its least, each drawn by a user of its own (dave's moderation limit by dave). */
  tight: TestServer
  /** Room for one stream in all, and for one webhook per user. */
  full: TestServer
  /**
   * A public room of alice's: seq 1 mentions bob and has a reaction, seq 2 is a tombstone,
   * seq 3 is deleted by a call, seq 4 is rl-change's; gina is a member, yul muted.
   */
  room: number
  other: number
  /** A private room of alice's, which bob may not read. */
  secret: number
  /** alice's direct message with bob. */
  dm: number
  /** A room of dave's. */
  daveRoom: number
  /**
   * A public room of alice's for moderation: carol's seq 1, and 2 deleted; dan's seq 3;
   * nina is a moderator, vic banned, wes muted; bob reported seq 1 (`report`).
   */
  modRoom: number
  report: number
  /** A disabled webhook of alice's on `room`, and one that a call deletes. */
  hook: number
  spareHook: number
}

export interface Call {
  /** The status this request is meant to get. */
  status: number
  path: string
  /** The user whose token it sends (alice unless said), or null for none. */
  as?: string | null
  body?: unknown
  headers?: Record<string, string>
  on?: TestServer
  /** Sent this many times, the last one checked: to draw a repeat's answer or a limit. */
  times?: number
  /** A stream of this path held open by this user during the call, for a stream limit. */
  holding?: { path: string; as: string }
}

export interface Entry {
  /** The operation's path filled in, for the answers every operation can get. */
  path(): string
  calls(): Call[] | Promise<Call[]>
  /** What the first call gets from a server whose database is gone; 503 unless it needs none. */
  withoutDatabase?: number
  /** Documented statuses that no call here draws, and why. */
  unexercised?: Record<number, string>
}

const longText = 'x'.repeat(2001)

/**
 * A webhook registration: disabled, so that nothing is ever sent to its address, a public
 * one that needs no name lookup.
 */
export const hookBody = (rooms: number[] | 'all', url = 'https://1.1.1.1/hook') => ({
  url,
  rooms,
  events: ['message.created'],
  enabled: false,
})

/** How to call each operation of the document, by operationId. */
export const operationCalls = (w: World): Record<string, Entry> => {
  const { server } = w
  const room = (rest = '') => `/rooms/${w.room}${rest}`
  const mod = (rest = '') => `/rooms/${w.modRoom}${rest}`
  const dave = (rest = '') => `/rooms/${w.daveRoom}${rest}`
  /** Bans or mutes: `present` is under one already, `target` not yet. */
  const restrictionCalls = (plural: 'bans' | 'mutes', present: string, target: string) => {
    const Plural = plural === 'bans' ? 'Bans' : 'Mutes'
    return {
      [`putRoomsById${Plural}ByUserId`]: {
        path: () => mod(`/${plural}/${target}`),
        calls: () => [
          { status: 201, path: mod(`/${plural}/${target}`), body: { reason: 'spam' } },
          { status: 200, path: mod(`/${plural}/${target}`), body: { duration_seconds: 60 } },
          { status: 400, path: mod(`/${plural}/${target}`), body: { duration_seconds: 0 } },
          { status: 403, path: mod(`/${plural}/${target}`), as: 'bob', body: {} },
          { status: 404, path: `/rooms/${w.secret}/${plural}/bob`, as: 'bob', body: {} },
          { status: 429, path: dave(`/${plural}/zed`), on: w.tight, as: 'dave', body: {}, times: 3 },
        ],
      },
      [`deleteRoomsById${Plural}ByUserId`]: {
        path: () => mod(`/${plural}/${present}`),
        calls: () => [
          { status: 403, path: mod(`/${plural}/${present}`), as: 'bob' },
          { status: 204, path: mod(`/${plural}/${present}`) },
          { status: 404, path: mod(`/${plural}/${present}`) },
          { status: 400, path: mod(`/${plural}/${'u'.repeat(201)}`) },
          { status: 429, path: dave(`/${plural}/zed`), on: w.tight, as: 'dave', times: 3 },
        ],
      },
      [`getRoomsById${Plural}`]: {
        path: () => mod(`/${plural}`),
        calls: () => [
          { status: 200, path: mod(`/${plural}?limit=5`) },
          { status: 400, path: mod(`/${plural}?cursor=garbage`) },
          { status: 403, path: mod(`/${plural}`), as: 'bob' },
          { status: 404, path: `/rooms/${w.secret}/${plural}`, as: 'bob' },
        ],
      },
    } satisfies Record<string, Entry>
  }
  return {
    getHealthz: {
      path: () => '/healthz',
      calls: () => [{ status: 200, path: '/healthz' }],
      withoutDatabase: 200,
    },
    getReadyz: {
      path: () => '/readyz',
      calls: () => [{ status: 200, path: '/readyz' }],
    },
    getRooms: {
      path: () => '/rooms',
      calls: () => [
        { status: 200, path: '/rooms' },
        { status: 200, path: '/rooms?kind=dm&limit=1' },
        { status: 400, path: '/rooms?limit=0' },
        { status: 400, path: '/rooms?cursor=garbage' },
      ],
    },
    postRooms: {
      path: () => '/rooms',
      calls: () => [
        { status: 201, path: '/rooms', body: { name: 'conformance-new', visibility: 'private' } },
        { status: 400, path: '/rooms', body: { name: '  ' } },
        { status: 400, path: '/rooms', body: '{"name":' },
        { status: 409, path: '/rooms', body: { name: 'conformance' } },
        { status: 429, path: '/rooms', on: w.tight, as: 'rl-rooms', body: { name: 'rl-rooms' }, times: 3 },
      ],
    },
    getRoomsById: {
      path: () => room(),
      calls: () => [
        { status: 200, path: room() },
        { status: 400, path: '/rooms/abc' },
        { status: 404, path: '/rooms/999999' },
        { status: 404, path: `/rooms/${w.secret}`, as: 'bob' },
      ],
    },
    getRoomsByIdMessages: {
      path: () => room('/messages'),
      calls: () => [
        { status: 200, path: room('/messages?limit=2&after=0') },
        { status: 400, path: room('/messages?limit=0') },
        { status: 404, path: `/rooms/${w.secret}/messages`, as: 'bob' },
      ],
    },
    postRoomsByIdMessages: {
      path: () => room('/messages'),
      calls: () => [
        { status: 201, path: room('/messages'), body: { body: 'a reply', reply_to: 1 } },
        { status: 200, path: room('/messages'), body: { body: 'once', client_id: 'c-1' }, times: 2 },
        { status: 400, path: room('/messages'), body: { body: '' } },
        { status: 404, path: `/rooms/${w.secret}/messages`, as: 'bob', body: { body: 'hi' } },
        { status: 404, path: room('/messages'), body: { body: 'hi', reply_to: 99999 } },
        { status: 409, path: `/rooms/${w.other}/messages`, body: { body: 'again', client_id: 'c-1' } },
        { status: 422, path: room('/messages'), body: { body: longText } },
        { status: 429, path: room('/messages'), on: w.tight, as: 'rl-post', body: { body: 'hi' }, times: 3 },
      ],
    },
    getRoomsByIdMessagesBySeq: {
      path: () => room('/messages/1'),
      calls: () => [
        { status: 200, path: room('/messages/1') },
        { status: 200, path: room('/messages/2') },
        { status: 400, path: room('/messages/abc') },
        { status: 404, path: room('/messages/99999') },
      ],
    },
    patchRoomsByIdMessagesBySeq: {
      path: () => room('/messages/1'),
      calls: () => [
        { status: 200, path: room('/messages/1'), body: { body: 'hello @bob, edited' } },
        { status: 400, path: room('/messages/1'), body: { body: '' } },
        { status: 403, path: room('/messages/1'), as: 'bob', body: { body: 'mine now' } },
        { status: 404, path: room('/messages/99999'), body: { body: 'x' } },
        { status: 409, path: room('/messages/2'), body: { body: 'x' } },
        { status: 422, path: room('/messages/1'), body: { body: longText } },
        {
          status: 429,
          path: room('/messages/4'),
          on: w.tight,
          as: 'rl-change',
          body: { body: 'x' },
          times: 3,
        },
      ],
    },
    deleteRoomsByIdMessagesBySeq: {
      path: () => room('/messages/3'),
      calls: () => [
        { status: 403, path: room('/messages/3'), as: 'bob' },
        { status: 204, path: room('/messages/3') },
        { status: 204, path: room('/messages/3') },
        { status: 400, path: room('/messages/0') },
        { status: 404, path: room('/messages/99999') },
      ],
    },
    getRoomsByIdMessagesBySeqReplies: {
      path: () => room('/messages/1/replies'),
      calls: () => [
        { status: 200, path: room('/messages/1/replies') },
        { status: 400, path: room('/messages/1/replies?limit=x') },
        { status: 404, path: room('/messages/99999/replies') },
      ],
    },
    putRoomsByIdMessagesBySeqReactionsByEmoji: {
      path: () => room('/messages/1/reactions/%F0%9F%8E%89'),
      calls: () => [
        { status: 200, path: room('/messages/1/reactions/%F0%9F%8E%89') },
        { status: 400, path: room('/messages/1/reactions/abc') },
        { status: 404, path: room('/messages/99999/reactions/:x:') },
        { status: 409, path: room('/messages/2/reactions/:x:') },
        { status: 403, path: room('/messages/1/reactions/:x:'), as: 'yul' },
        { status: 429, path: room('/messages/1/reactions/:y:'), on: w.tight, as: 'rl-react', times: 3 },
      ],
    },
    deleteRoomsByIdMessagesBySeqReactionsByEmoji: {
      path: () => room('/messages/1/reactions/%F0%9F%8E%89'),
      calls: () => [
        { status: 200, path: room('/messages/1/reactions/%F0%9F%8E%89') },
        { status: 400, path: room('/messages/1/reactions/abc') },
        { status: 404, path: room('/messages/99999/reactions/:x:') },
        { status: 409, path: room('/messages/2/reactions/:x:') },
        { status: 429, path: room('/messages/1/reactions/:y:'), on: w.tight, as: 'rl-unreact', times: 3 },
      ],
    },
    getRoomsByIdMessagesBySeqReactions: {
      path: () => room('/messages/1/reactions'),
      calls: () => [
        { status: 200, path: room('/messages/1/reactions') },
        { status: 400, path: room('/messages/1/reactions?cursor=garbage') },
        { status: 404, path: room('/messages/99999/reactions') },
      ],
    },
    getRoomsByIdMembers: {
      path: () => room('/members'),
      calls: () => [
        { status: 200, path: room('/members') },
        { status: 400, path: '/rooms/0/members' },
        { status: 404, path: `/rooms/${w.secret}/members`, as: 'bob' },
      ],
    },
    postRoomsByIdMembers: {
      path: () => room('/members'),
      calls: () => [
        { status: 201, path: room('/members'), body: { user_id: 'hank' } },
        { status: 200, path: room('/members'), body: { user_id: 'hank', role: 'owner' } },
        { status: 400, path: room('/members'), body: { user_id: '' } },
        { status: 403, path: room('/members'), as: 'bob', body: { user_id: 'ivan' } },
        { status: 403, path: `/rooms/${w.dm}/members`, body: { user_id: 'ivan' } },
        { status: 404, path: `/rooms/${w.secret}/members`, as: 'bob', body: { user_id: 'bob' } },
        {
          status: 429,
          path: `/rooms/${w.daveRoom}/members`,
          on: w.tight,
          as: 'dave',
          body: { user_id: 'x' },
          times: 3,
        },
      ],
    },
    deleteRoomsByIdMembersByUserId: {
      path: () => room('/members/gina'),
      calls: () => [
        { status: 403, path: room('/members/gina'), as: 'bob' },
        { status: 204, path: room('/members/gina') },
        { status: 400, path: room(`/members/${'u'.repeat(201)}`) },
        { status: 404, path: room('/members/gina') },
        { status: 404, path: `/rooms/${w.secret}/members/bob`, as: 'bob' },
        { status: 429, path: room('/members/rl-leave'), on: w.tight, as: 'rl-leave', times: 3 },
      ],
    },
    postRoomsByIdJoin: {
      path: () => room('/join'),
      calls: () => [
        { status: 201, path: room('/join'), as: 'jane' },
        { status: 200, path: room('/join'), as: 'jane' },
        { status: 400, path: '/rooms/-1/join' },
        { status: 403, path: `/rooms/${w.dm}/join` },
        { status: 404, path: `/rooms/${w.secret}/join`, as: 'bob' },
        { status: 429, path: room('/join'), on: w.tight, as: 'rl-join', times: 3 },
      ],
    },
    postDms: {
      path: () => '/dms',
      calls: () => [
        { status: 201, path: '/dms', body: { user_id: 'kate', user_name: 'Kate' } },
        { status: 200, path: '/dms', body: { user_id: 'kate' } },
        { status: 400, path: '/dms', body: { user_id: 'alice' } },
        { status: 201, path: '/dms', on: w.tight, as: 'rl-dm', body: { user_id: 'lena' } },
        { status: 429, path: '/dms', on: w.tight, as: 'rl-dm', body: { user_id: 'mona' } },
      ],
    },
    getMentions: {
      path: () => '/mentions',
      calls: () => [
        { status: 200, path: '/mentions', as: 'bob' },
        { status: 400, path: '/mentions?cursor=garbage' },
      ],
    },
    getMeCursor: { path: () => '/me/cursor', calls: () => [{ status: 200, path: '/me/cursor' }] },
    getMeStream: {
      path: () => '/me/stream',
      calls: async () => [
        { status: 200, path: '/me/stream' },
        { status: 200, path: '/me/stream', headers: { 'last-event-id': '0' } },
        { status: 200, path: `/me/stream?access_token=${await server.token('alice')}`, as: null },
        { status: 400, path: '/me/stream?last_event_id=garbage' },
        { status: 401, path: '/me/stream?ticket=unknown', as: null },
        {
          status: 429,
          path: '/me/stream',
          on: w.tight,
          as: 'sx-me',
          holding: { path: '/me/stream', as: 'sx-me' },
        },
        {
          status: 503,
          path: '/me/stream',
          on: w.full,
          as: 'sy-me',
          holding: { path: '/me/stream', as: 'sz-me' },
        },
      ],
    },
    getRoomsByIdPresence: {
      path: () => room('/presence'),
      calls: () => [
        { status: 200, path: room('/presence') },
        { status: 400, path: room('/presence?limit=0') },
        { status: 404, path: `/rooms/${w.secret}/presence`, as: 'bob' },
      ],
    },
    postRoomsByIdTyping: {
      path: () => room('/typing'),
      calls: () => [
        { status: 204, path: room('/typing'), body: { state: 'on' } },
        { status: 400, path: room('/typing'), body: { state: 'maybe' } },
        { status: 404, path: `/rooms/${w.secret}/typing`, as: 'bob', body: { state: 'on' } },
      ],
    },
    postRoomsByIdRead: {
      path: () => room('/read'),
      calls: () => [
        { status: 200, path: room('/read'), body: { seq: 1 } },
        { status: 400, path: room('/read'), body: { seq: -1 } },
        { status: 404, path: `/rooms/${w.secret}/read`, as: 'bob', body: { seq: 1 } },
      ],
    },
    getRoomsByIdReads: {
      path: () => room('/reads'),
      calls: () => [
        { status: 200, path: room('/reads') },
        { status: 400, path: '/rooms/1.5/reads' },
        { status: 404, path: `/rooms/${w.secret}/reads`, as: 'bob' },
      ],
    },
    getSearch: {
      path: () => '/search?q=hello',
      calls: () => [
        { status: 200, path: `/search?q=hello&room=${w.room}&sort=recent` },
        { status: 400, path: '/search' },
        { status: 400, path: '/search?q=-only' },
        { status: 404, path: `/search?q=hello&room=${w.secret}`, as: 'bob' },
        { status: 429, path: '/search?q=hello', on: w.tight, as: 'rl-search', times: 3 },
      ],
      unexercised: {
        503: 'needs every search connection held by slow searches: test/chat/search-admission',
        504: 'needs a search slower than SEARCH_TIMEOUT_MS',
      },
    },
    getRoomsByIdStream: {
      path: () => room('/stream'),
      calls: async () => [
        { status: 200, path: room('/stream') },
        { status: 200, path: room('/stream'), headers: { 'last-event-id': '1' } },
        { status: 200, path: room(`/stream?access_token=${await server.token('alice')}`), as: null },
        { status: 400, path: room('/stream?last_event_id=garbage') },
        { status: 401, path: room('/stream?ticket=unknown'), as: null },
        { status: 404, path: `/rooms/${w.secret}/stream`, as: 'bob' },
        {
          status: 429,
          path: room('/stream'),
          on: w.tight,
          as: 'sx-room',
          holding: { path: room('/stream'), as: 'sx-room' },
        },
        {
          status: 503,
          path: room('/stream'),
          on: w.full,
          as: 'sy-room',
          holding: { path: room('/stream'), as: 'sz-room' },
        },
      ],
    },
    getStream: {
      path: () => `/stream?rooms=${w.room}`,
      calls: () => [
        { status: 200, path: `/stream?rooms=${w.room},${w.other}` },
        { status: 200, path: `/stream?rooms=${w.room}`, headers: { 'last-event-id': `${w.room}:1` } },
        { status: 400, path: '/stream?rooms=abc' },
        { status: 404, path: `/stream?rooms=${w.room},${w.secret}`, as: 'bob' },
        {
          status: 429,
          path: `/stream?rooms=${w.room}`,
          on: w.tight,
          as: 'sx-multi',
          holding: { path: room('/stream'), as: 'sx-multi' },
        },
        {
          status: 503,
          path: `/stream?rooms=${w.room}`,
          on: w.full,
          as: 'sy-multi',
          holding: { path: room('/stream'), as: 'sz-multi' },
        },
      ],
    },
    postStreamTickets: {
      path: () => '/stream-tickets',
      calls: () => [
        { status: 201, path: '/stream-tickets' },
        { status: 201, path: '/stream-tickets', body: {} },
        { status: 400, path: '/stream-tickets', body: '[' },
        { status: 429, path: '/stream-tickets', on: w.tight, as: 'rl-ticket', times: 3 },
      ],
    },
    postDevToken: {
      path: () => '/dev/token',
      calls: () => [
        { status: 200, path: '/dev/token', as: null, body: { name: 'Zoe' } },
        { status: 400, path: '/dev/token', as: null, body: { name: '!!!' } },
      ],
      withoutDatabase: 200,
    },
    putRoomsByIdModeratorsByUserId: {
      path: () => mod('/moderators/mia'),
      calls: () => [
        { status: 201, path: mod('/moderators/mia') },
        { status: 200, path: mod('/moderators/mia') },
        { status: 400, path: mod(`/moderators/${'u'.repeat(201)}`) },
        { status: 403, path: mod('/moderators/mia'), as: 'bob' },
        { status: 404, path: `/rooms/${w.secret}/moderators/bob`, as: 'bob' },
        { status: 429, path: dave('/moderators/ola'), on: w.tight, as: 'dave', times: 3 },
      ],
    },
    deleteRoomsByIdModeratorsByUserId: {
      path: () => mod('/moderators/nina'),
      calls: () => [
        { status: 403, path: mod('/moderators/nina'), as: 'bob' },
        { status: 204, path: mod('/moderators/nina') },
        { status: 404, path: mod('/moderators/nina') },
        { status: 400, path: mod(`/moderators/${'u'.repeat(201)}`) },
        { status: 429, path: dave('/moderators/ola'), on: w.tight, as: 'dave', times: 3 },
      ],
    },
    putRoomsByIdSlowMode: {
      path: () => mod('/slow-mode'),
      calls: () => [
        { status: 200, path: mod('/slow-mode'), body: { seconds: 0 } },
        { status: 400, path: mod('/slow-mode'), body: { seconds: -1 } },
        { status: 403, path: mod('/slow-mode'), as: 'bob', body: { seconds: 5 } },
        { status: 404, path: `/rooms/${w.secret}/slow-mode`, as: 'bob', body: { seconds: 5 } },
        { status: 429, path: dave('/slow-mode'), on: w.tight, as: 'dave', body: { seconds: 0 }, times: 3 },
      ],
    },
    deleteRoomsByIdUsersByUserIdMessages: {
      path: () => mod('/users/dan/messages'),
      calls: () => [
        { status: 200, path: mod('/users/dan/messages?limit=1') },
        { status: 400, path: mod('/users/dan/messages?limit=0') },
        { status: 403, path: mod('/users/dan/messages'), as: 'bob' },
        { status: 404, path: `/rooms/${w.secret}/users/dan/messages`, as: 'bob' },
        { status: 429, path: dave('/users/dan/messages'), on: w.tight, as: 'dave', times: 3 },
      ],
    },
    getRoomsByIdAudit: {
      path: () => mod('/audit'),
      calls: () => [
        { status: 200, path: mod('/audit?limit=5') },
        { status: 400, path: mod('/audit?cursor=garbage') },
        { status: 403, path: mod('/audit'), as: 'bob' },
        { status: 404, path: `/rooms/${w.secret}/audit`, as: 'bob' },
      ],
    },
    ...restrictionCalls('bans', 'vic', 'ulf'),
    ...restrictionCalls('mutes', 'wes', 'xan'),
    postRoomsByIdMessagesBySeqReports: {
      path: () => mod('/messages/1/reports'),
      calls: () => [
        { status: 201, path: mod('/messages/1/reports'), as: 'pia', body: { reason: 'rude' } },
        { status: 200, path: mod('/messages/1/reports'), as: 'pia', body: { reason: 'still rude' } },
        { status: 400, path: mod('/messages/1/reports'), body: { reason: ' ' } },
        { status: 404, path: mod('/messages/99999/reports'), body: { reason: 'x' } },
        { status: 409, path: mod('/messages/2/reports'), body: { reason: 'x' } },
        {
          status: 429,
          path: mod('/messages/1/reports'),
          on: w.tight,
          as: 'rl-report',
          body: { reason: 'x' },
          times: 3,
        },
      ],
    },
    getRoomsByIdReports: {
      path: () => mod('/reports'),
      calls: () => [
        { status: 200, path: mod('/reports?limit=5') },
        { status: 400, path: mod('/reports?cursor=garbage') },
        { status: 403, path: mod('/reports'), as: 'bob' },
        { status: 404, path: `/rooms/${w.secret}/reports`, as: 'bob' },
      ],
    },
    postRoomsByIdReportsByReportIdResolve: {
      path: () => mod(`/reports/${w.report}/resolve`),
      calls: () => [
        { status: 200, path: mod(`/reports/${w.report}/resolve`), body: { resolution: 'dismissed' } },
        { status: 400, path: mod(`/reports/${w.report}/resolve`), body: { resolution: 'maybe' } },
        {
          status: 403,
          path: mod(`/reports/${w.report}/resolve`),
          as: 'bob',
          body: { resolution: 'dismissed' },
        },
        { status: 404, path: mod('/reports/999999/resolve'), body: { resolution: 'dismissed' } },
        {
          status: 429,
          path: dave('/reports/999999/resolve'),
          on: w.tight,
          as: 'dave',
          body: { resolution: 'dismissed' },
          times: 3,
        },
      ],
    },
    postWebhooks: {
      path: () => '/webhooks',
      calls: () => [
        { status: 201, path: '/webhooks', body: hookBody([w.room]) },
        { status: 400, path: '/webhooks', body: hookBody('all', 'not a url') },
        { status: 403, path: '/webhooks', body: hookBody([w.daveRoom]) },
        { status: 404, path: '/webhooks', as: 'bob', body: hookBody([w.secret]) },
        { status: 409, path: '/webhooks', on: w.full, as: 'hook-cap', body: hookBody('all'), times: 2 },
        { status: 422, path: '/webhooks', body: hookBody([w.room], 'https://127.0.0.1/hook') },
        { status: 429, path: '/webhooks', on: w.tight, as: 'rl-hook', body: hookBody('all'), times: 3 },
      ],
      unexercised: { 501: 'needs rooms over shards: test/shards/server-requests' },
    },
    getWebhooks: {
      path: () => '/webhooks',
      calls: () => [
        { status: 200, path: '/webhooks?limit=1' },
        { status: 400, path: '/webhooks?cursor=garbage' },
      ],
    },
    getWebhooksByWebhookId: {
      path: () => `/webhooks/${w.hook}`,
      calls: () => [
        { status: 200, path: `/webhooks/${w.hook}` },
        { status: 400, path: '/webhooks/abc' },
        { status: 404, path: `/webhooks/${w.hook}`, as: 'bob' },
      ],
    },
    patchWebhooksByWebhookId: {
      path: () => `/webhooks/${w.hook}`,
      calls: () => [
        { status: 200, path: `/webhooks/${w.hook}`, body: { events: ['message.created', 'message.edited'] } },
        { status: 400, path: `/webhooks/${w.hook}`, body: {} },
        { status: 403, path: `/webhooks/${w.hook}`, body: { rooms: [w.daveRoom] } },
        { status: 404, path: '/webhooks/999999', body: { enabled: false } },
        { status: 404, path: `/webhooks/${w.hook}`, body: { rooms: [w.secret] }, as: 'bob' },
        { status: 422, path: `/webhooks/${w.hook}`, body: { url: 'https://10.0.0.1/hook' } },
      ],
    },
    deleteWebhooksByWebhookId: {
      path: () => `/webhooks/${w.spareHook}`,
      calls: () => [
        { status: 404, path: `/webhooks/${w.spareHook}`, as: 'bob' },
        { status: 204, path: `/webhooks/${w.spareHook}` },
        { status: 404, path: `/webhooks/${w.spareHook}` },
        { status: 400, path: '/webhooks/0' },
      ],
    },
    postWebhooksByWebhookIdRotateSecret: {
      path: () => `/webhooks/${w.hook}/rotate-secret`,
      calls: () => [
        { status: 200, path: `/webhooks/${w.hook}/rotate-secret` },
        { status: 400, path: '/webhooks/x/rotate-secret' },
        { status: 404, path: '/webhooks/999999/rotate-secret' },
      ],
    },
    getWebhooksByWebhookIdDeliveries: {
      path: () => `/webhooks/${w.hook}/deliveries`,
      calls: () => [
        { status: 200, path: `/webhooks/${w.hook}/deliveries` },
        { status: 400, path: `/webhooks/${w.hook}/deliveries?cursor=garbage` },
        { status: 404, path: '/webhooks/999999/deliveries' },
      ],
    },
  }
}
