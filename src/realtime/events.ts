import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { EVENTS_CHANNEL } from './hub.js'

/** Anything that can run a statement: the pool or a transaction. */
type Executor = Pick<Db, 'execute'>

/**
 * Announces an ephemeral event to the room's streams on every instance. It is a NOTIFY,
 * not a row: nothing is stored. Inside a transaction it is sent only if that commits.
 */
export async function publishRoomEvent(
  db: Executor,
  roomId: number,
  event: string,
  data: Record<string, unknown>,
  exceptUserId?: string,
): Promise<void> {
  const payload = JSON.stringify({ room_id: roomId, event, data, except_user_id: exceptUserId })
  await db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${payload})`)
}
