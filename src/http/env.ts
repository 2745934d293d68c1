import type { HttpBindings } from '@hono/node-server'
import type { Identity } from '../auth/jwt.js'
import type { Db } from '../db/client.js'

/** Hono's environment for every Parley route: Node's request/response and what middleware resolved. */
export interface AppEnv {
  Bindings: HttpBindings
  Variables: {
    requestId: string
    identity: Identity
    /** Under `/rooms/{id}`: the database holding the room (its shard's, with several). */
    db: Db
  }
}
