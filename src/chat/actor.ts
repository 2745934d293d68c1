import { type SQL, sql } from 'drizzle-orm'

/**
 * A FROM item that names `userId` as who acts in this statement's transaction: the
 * `parley.actor` setting, which the audit log's triggers read (parley_actor,
 * sql/moderation.sql). OFFSET 0 keeps the planner from folding it away, so it is evaluated
 * before the statement writes its first row and every trigger of the statement sees it.
 */
export function actedBy(userId: string): SQL {
  return sql`(select set_config('parley.actor', ${userId}, true) as actor offset 0) as acting`
}
