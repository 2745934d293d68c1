import pino, { type DestinationStream, type Logger } from 'pino'
import type { Config } from './config.js'

// Fields of an error that may quote what was stored: drizzle's `params` (message bodies,
// names, client ids) and PostgreSQL's `detail` ("Failing row contains (…)", "Key (…)=(…)").
const QUOTING_FIELDS = ['params', 'parameters', 'detail'] as const

/**
 * An error as logged: pino's usual fields, without the values of the failed statement. The
 * query text stays (it names the statement and holds placeholders, not values), and so do
 * PostgreSQL's code, constraint and table, which are what an operator needs.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 4) return error
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>
  for (const field of QUOTING_FIELDS) delete serialized[field]
  const query = (error as { query?: unknown }).query
  if (typeof query === 'string' && error.message.startsWith('Failed query: ')) {
    // drizzle's message is "Failed query: <sql>\nparams: <values>".
    const safe = `Failed query: ${query}`
    serialized.message = safe
    serialized.stack = error.stack?.replace(error.message, safe)
  }
  if (error.cause !== undefined) serialized.cause = serializeError(error.cause, depth + 1)
  return serialized
}

/** The process's logger: JSON lines, and errors without the data of the statement that failed. */
export function createLogger(level: Config['LOG_LEVEL'], destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, serializers: { err: serializeError } }, destination)
}
