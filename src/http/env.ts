import type { HttpBindings } from '@hono/node-server'
import type { Identity } from '../auth/jwt.js'

/** Hono's environment for every Parley route: Node's request/response and what middleware resolved. */
export interface AppEnv {
  Bindings: HttpBindings
  Variables: {
    requestId: string
    identity: Identity
  }
}
