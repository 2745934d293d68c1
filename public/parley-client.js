// Built from client/ by `npm run build:client`; edit client/*.ts, not this file.

// client/rest.ts
var room = (id) => `/rooms/${encodeURIComponent(id)}`;
var message = (roomId, seq) => `${room(roomId)}/messages/${encodeURIComponent(seq)}`;
var reaction = (roomId, seq, emoji) => `${message(roomId, seq)}/reactions/${encodeURIComponent(emoji)}`;
function createRest({ json }) {
  return {
    rooms: {
      list: (options = {}) => json("GET", "/rooms", { query: { ...options, cursor: options.cursor ?? void 0 } }),
      create: (input) => json("POST", "/rooms", { body: input }),
      get: (id) => json("GET", room(id)),
      join: (id) => json("POST", `${room(id)}/join`),
      presence: (id, options = {}) => json("GET", `${room(id)}/presence`, { query: options }),
      typing: (id, state) => json("POST", `${room(id)}/typing`, { body: { state } }),
      markRead: (id, seq) => json("POST", `${room(id)}/read`, { body: { seq } }),
      reads: (id) => json("GET", `${room(id)}/reads`)
    },
    messages: {
      list: (roomId, options = {}) => json("GET", `${room(roomId)}/messages`, { query: options }),
      get: (roomId, seq) => json("GET", message(roomId, seq)),
      post: (roomId, input) => json("POST", `${room(roomId)}/messages`, { body: input }),
      edit: (roomId, seq, input) => json("PATCH", message(roomId, seq), { body: input }),
      delete: (roomId, seq) => json("DELETE", message(roomId, seq)),
      replies: (roomId, seq, options = {}) => json("GET", `${message(roomId, seq)}/replies`, { query: options })
    },
    reactions: {
      add: (roomId, seq, emoji) => json("PUT", reaction(roomId, seq, emoji)),
      remove: (roomId, seq, emoji) => json("DELETE", reaction(roomId, seq, emoji)),
      list: (roomId, seq) => json("GET", `${message(roomId, seq)}/reactions`)
    },
    members: {
      list: (roomId) => json("GET", `${room(roomId)}/members`),
      add: (roomId, input) => json("POST", `${room(roomId)}/members`, { body: input }),
      remove: (roomId, userId) => json("DELETE", `${room(roomId)}/members/${encodeURIComponent(userId)}`)
    },
    dms: {
      /** The direct-message room with another user, created the first time either asks. */
      open: (input) => json("POST", "/dms", { body: input })
    },
    mentions: {
      list: (options = {}) => json("GET", "/mentions", { query: { ...options, cursor: options.cursor ?? void 0 } })
    },
    streamTickets: {
      create: () => json("POST", "/stream-tickets")
    },
    /** Development sign-in (absent, 404 not_found, in production): a one-hour token for a name. */
    devToken: (input) => json("POST", "/dev/token", { body: input, auth: false }),
    health: () => json("GET", "/healthz", { auth: false }),
    /** 503 (a ParleyError) while the database or the LISTEN connection is down. */
    ready: () => json("GET", "/readyz", { auth: false })
  };
}

// client/backoff.ts
var DEFAULT_BACKOFF = { baseMs: 500, capMs: 3e4 };
function backoffDelay(failures, policy, random) {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}
function retryAfterDelay(retryAfterS, policy, random) {
  const asked = retryAfterS * 1e3;
  return asked + Math.floor(random() * Math.min(asked, policy.capMs));
}

// src/stream-cursor.ts
var CURSOR = /^[0-9]{1,15}$/;
var ROOM_CURSOR = /^([0-9]{1,15}):([0-9]{1,15})$/;
function encodeRoomCursors(cursors) {
  let text = "";
  for (const [roomId, cursor] of cursors) text += `${text ? "," : ""}${roomId}:${cursor}`;
  return text;
}
function parseRoomCursors(text) {
  const cursors = /* @__PURE__ */ new Map();
  for (const part of text.split(",")) {
    const match = ROOM_CURSOR.exec(part.trim());
    if (!match) return void 0;
    cursors.set(Number(match[1]), Number(match[2]));
  }
  return cursors;
}
function parseSingleCursor(text) {
  return CURSOR.test(text) ? Number(text) : void 0;
}

// client/cursors.ts
function createCursors(roomIds, multi, after) {
  const cursors = /* @__PURE__ */ new Map();
  for (const roomId of roomIds) {
    const cursor = after?.[roomId];
    if (cursor !== void 0) cursors.set(roomId, cursor);
  }
  function parse(id) {
    if (multi) return parseRoomCursors(id);
    const cursor = parseSingleCursor(id);
    return cursor !== void 0 && roomIds[0] !== void 0 ? /* @__PURE__ */ new Map([[roomIds[0], cursor]]) : void 0;
  }
  return {
    /**
     * Takes in the `id:` of a history event of room `roomId`; false when that room's cursor
     * is already there or past it, a change delivered before, to be dropped.
     */
    advance(id, roomId) {
      const parsed = parse(id);
      const room2 = multi ? roomId : roomIds[0];
      if (!parsed || room2 === void 0) return true;
      const next = parsed.get(room2);
      const known = cursors.get(room2);
      if (next !== void 0 && known !== void 0 && next <= known) return false;
      for (const [roomId2, cursor] of parsed) {
        if (!roomIds.includes(roomId2)) continue;
        if (cursor > (cursors.get(roomId2) ?? -1)) cursors.set(roomId2, cursor);
      }
      return true;
    },
    /** The Last-Event-ID to send: nothing until some room has a cursor. */
    lastEventId(rooms = roomIds) {
      if (!multi) {
        const cursor = rooms[0] === void 0 ? void 0 : cursors.get(rooms[0]);
        return cursor === void 0 ? void 0 : String(cursor);
      }
      const known = rooms.flatMap((roomId) => {
        const cursor = cursors.get(roomId);
        return cursor === void 0 ? [] : [[roomId, cursor]];
      });
      return known.length > 0 ? encodeRoomCursors(known) : void 0;
    },
    get: (roomId) => cursors.get(roomId)
  };
}

// client/errors.ts
var ParleyError = class extends Error {
  constructor(status, code, message2, retryAfter) {
    super(message2);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
  name = "ParleyError";
};
async function toParleyError(response) {
  const body = await response.json().catch(() => void 0);
  const code = typeof body?.error?.code === "string" ? body.error.code : "http_error";
  const message2 = typeof body?.error?.message === "string" ? body.error.message : `The server answered ${response.status}`;
  return new ParleyError(response.status, code, message2, parseRetryAfter(response.headers.get("retry-after")));
}
function parseRetryAfter(header, now = Date.now()) {
  if (header === null || header.trim() === "") return void 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? void 0 : Math.max(0, Math.ceil((date - now) / 1e3));
}

// client/events.ts
var HISTORY_EVENTS = /* @__PURE__ */ new Set([
  "message",
  "edit",
  "delete",
  "reaction"
]);
var USER_EVENTS = /* @__PURE__ */ new Set(["mention", "dm", "added", "removed"]);
function roomOf(data) {
  const named = data;
  const roomId = named?.room_id ?? named?.room?.id;
  return typeof roomId === "number" ? roomId : void 0;
}
function deliver(handlers, name, data, meta) {
  const handler = handlers[name];
  if (!handler) return;
  try {
    handler(data, meta);
  } catch (error) {
    setTimeout(() => {
      throw error;
    }, 0);
  }
}

// client/sse-parser.ts
function createSseParser(handlers) {
  let buffer = "";
  let started = false;
  let pendingCr = false;
  let data = [];
  let eventName = "";
  let id;
  function dispatch() {
    if (data.length > 0) {
      const event = { event: eventName || "message", data: data.join("\n") };
      if (id !== void 0) event.id = id;
      handlers.event(event);
    }
    data = [];
    eventName = "";
    id = void 0;
  }
  function line(text) {
    if (text === "") return dispatch();
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") eventName = value;
    else if (field === "id" && !value.includes("\0")) id = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) handlers.retry?.(Number(value));
  }
  return {
    feed(chunk) {
      if (chunk === "") return;
      handlers.activity?.();
      let text = chunk;
      if (!started) {
        started = true;
        if (text.startsWith("\uFEFF")) text = text.slice(1);
      }
      if (pendingCr && text.startsWith("\n")) text = text.slice(1);
      pendingCr = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer[i];
        if (char !== "\n" && char !== "\r") continue;
        line(buffer.slice(start, i));
        if (char === "\r") {
          if (i + 1 === buffer.length) pendingCr = true;
          else if (buffer[i + 1] === "\n") i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    }
  };
}

// client/stream.ts
var USER_CURSOR = 0;
var STABLE_MS = 1e4;
function openStream(transport, target, handlers, options = {}) {
  const policy = { ...DEFAULT_BACKOFF, ...options.backoff };
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45e3;
  const multi = !target.user && target.multi;
  const rooms = target.user ? [USER_CURSOR] : [...target.roomIds];
  const history = target.user ? USER_EVENTS : HISTORY_EVENTS;
  const cursors = createCursors(rooms, multi, options.after);
  let state = "connecting";
  let closed = false;
  let renew = false;
  let connection;
  let wake;
  function setState(next, change = {}) {
    if (state === next && next !== "reconnecting") return;
    state = next;
    handlers.state?.(next, change);
  }
  function sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  async function run() {
    let failures = 0;
    handlers.state?.("connecting", {});
    while (!closed) {
      let openedAt;
      const next = await connect(() => openedAt = now());
      if (closed) return;
      if ("stop" in next) return finish(next.stop, next.error);
      if (openedAt !== void 0 && now() - openedAt >= STABLE_MS) failures = 0;
      failures = next.retry === "now" ? 0 : failures + 1;
      const delayMs = next.retry === "now" ? 0 : next.retry === "after" ? retryAfterDelay(next.seconds, policy, random) : backoffDelay(failures, policy, random);
      setState("reconnecting", next.error === void 0 ? { delayMs } : { delayMs, error: next.error });
      if (delayMs > 0) await sleep(delayMs);
    }
  }
  async function connect(opened) {
    const abort = new AbortController();
    connection = abort;
    let ending = { retry: "backoff" };
    try {
      if (renew) await transport.token(true);
      renew = false;
      const { ticket } = await transport.json("POST", "/stream-tickets", {
        signal: abort.signal
      });
      const response = await transport.fetch(streamUrl(ticket), {
        headers: { accept: "text/event-stream" },
        signal: abort.signal
      });
      if (!response.ok) throw await toParleyError(response);
      opened();
      setState("open");
      await read(response, abort, (next) => ending = next);
      return ending;
    } catch (error) {
      return closed ? { stop: "closed" } : afterFailure(error);
    } finally {
      abort.abort();
    }
  }
  function streamUrl(ticket) {
    const query = { ticket, last_event_id: cursors.lastEventId(rooms) };
    if (target.user) return transport.url("/me/stream", query);
    return multi ? transport.url("/stream", { rooms: rooms.join(","), ...query }) : transport.url(`/rooms/${rooms[0]}/stream`, query);
  }
  function afterFailure(error) {
    if (!(error instanceof ParleyError)) return { retry: "backoff", error };
    if (error.status === 404) return { stop: "not_found", error };
    if (error.status === 401) renew = true;
    if ((error.status === 429 || error.status === 503) && error.retryAfter !== void 0) {
      return { retry: "after", seconds: error.retryAfter, error };
    }
    const transient = error.status === 401 || error.status === 408 || error.status === 429 || error.status >= 500;
    return transient ? { retry: "backoff", error } : { stop: "refused", error };
  }
  async function read(response, abort, end) {
    const reader = response.body?.getReader();
    if (!reader) return;
    let idle;
    const restartIdle = () => {
      clearTimeout(idle);
      if (idleTimeoutMs > 0) idle = setTimeout(() => abort.abort(), idleTimeoutMs);
    };
    const parser = createSseParser({
      activity: restartIdle,
      event: (event) => {
        const next = handle(event);
        if (next) {
          end(next);
          abort.abort();
        }
      }
    });
    const decoder = new TextDecoder();
    restartIdle();
    try {
      for (; ; ) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      clearTimeout(idle);
    }
  }
  function handle(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return void 0;
    }
    const roomId = roomOf(data);
    if (history.has(event.event) && event.id !== void 0 && !cursors.advance(event.id, roomId)) {
      return void 0;
    }
    deliver(handlers, event.event, data, { id: event.id, roomId });
    if (event.event === "expired") {
      renew = true;
      return { retry: "now" };
    }
    if (event.event === "shutdown") return { retry: "backoff" };
    if (event.event === "removed" && !target.user) return removedFrom(roomId);
    return void 0;
  }
  function removedFrom(roomId) {
    const index = roomId === void 0 ? -1 : rooms.indexOf(roomId);
    if (multi && index !== -1 && rooms.length > 1) {
      rooms.splice(index, 1);
      return { retry: "now" };
    }
    return { stop: "removed" };
  }
  function finish(reason, error) {
    closed = true;
    connection?.abort();
    setState("closed", error === void 0 ? { reason } : { reason, error });
  }
  void run();
  return {
    get state() {
      return state;
    },
    get lastEventId() {
      return cursors.lastEventId(rooms);
    },
    close() {
      if (closed) return;
      finish("closed");
      wake?.();
    }
  };
}

// client/transport.ts
function createTransport(options) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let renewal;
  function url(path, query = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query))
      if (value !== void 0) params.set(name, String(value));
    const search = params.toString();
    return `${base}${path}${search ? `?${search}` : ""}`;
  }
  async function token(renew) {
    if (!renew) return renewal ?? options.getToken({ renew: false });
    renewal ??= Promise.resolve(options.getToken({ renew: true })).finally(() => renewal = void 0);
    return renewal;
  }
  async function send(method, path, request = {}) {
    const { query, body, auth = true, signal } = request;
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      if (auth) headers.authorization = `Bearer ${await token(attempt > 0)}`;
      if (body !== void 0) headers["content-type"] = "application/json";
      const init = {
        method,
        headers,
        body: body === void 0 ? void 0 : JSON.stringify(body)
      };
      if (signal) init.signal = signal;
      const response = await fetchImpl(url(path, query), init);
      if (response.status === 401 && auth && attempt === 0) {
        await response.body?.cancel();
        continue;
      }
      if (!response.ok) throw await toParleyError(response);
      return response;
    }
  }
  async function json(method, path, request) {
    const response = await send(method, path, request);
    if (response.status === 204) return void 0;
    return await response.json();
  }
  return { url, token, send, json, fetch: fetchImpl };
}

// client/index.ts
function createClient(options) {
  const transport = createTransport(options);
  const rest = createRest(transport);
  return {
    ...rest,
    rooms: {
      ...rest.rooms,
      /** A room's stream: its history events from `options.after[id]` on (or live), and its presence, typing, reads. */
      stream: (id, handlers, streamOptions) => openStream(transport, { roomIds: [id], multi: false }, handlers, streamOptions)
    },
    /** One stream for up to 50 rooms, each resumed by its own cursor. */
    stream: (roomIds, handlers, streamOptions) => openStream(transport, { roomIds, multi: true }, handlers, streamOptions),
    me: {
      /**
       * The caller's own stream: mentions, direct messages, rooms added to and removed from
       * (each resumed by the user's cursor), and unread counts. `after` is a cursor it sent.
       */
      stream: (handlers, { after, ...streamOptions } = {}) => openStream(transport, { user: true }, handlers, {
        ...streamOptions,
        ...after === void 0 ? {} : { after: { [USER_CURSOR]: after } }
      })
    },
    /** Any call by path, with the client's token handling and errors: the JSON answer, undefined for 204. */
    request: (method, path, request) => transport.json(method, path, request)
  };
}
export {
  DEFAULT_BACKOFF,
  ParleyError,
  backoffDelay,
  createClient,
  createSseParser,
  retryAfterDelay
};
