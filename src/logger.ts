import pino, { type DestinationStream, type Logger } from 'pino'
import { prettyFactory } from 'pino-pretty'
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

/**
 * `auto` is pretty only for a person watching: a terminal outside production. Whatever
 * collects logs (a pipe, a file, a container runtime) gets one JSON object per line.
 */
export function resolveLogFormat(
  config: Pick<Config, 'LOG_FORMAT' | 'NODE_ENV'>,
  stdoutIsTerminal: boolean,
): 'pretty' | 'json' {
  if (config.LOG_FORMAT !== 'auto') return config.LOG_FORMAT
  return stdoutIsTerminal && config.NODE_ENV !== 'production' ? 'pretty' : 'json'
}

interface RequestFields {
  method: string
  path: string
  status: number
  ms: number
}

/**
 * pino's JSON lines rewritten for a person: time, level, message and the other fields on
 * one line, and each request as `GET /rooms 200 3 ms`. Written synchronously to `out`, so
 * the welcome text written beside it stays between whole lines.
 */
export function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  const prettify = prettyFactory({
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    // Shown in the message instead; the key exists only on the way to this prettifier.
    ignore: 'request',
    messageFormat: (log, messageKey, _levelLabel, { colors }) => {
      const request = log.request as RequestFields | undefined
      if (!request) return String(log[messageKey] ?? '')
      const status = request.status
      const paint = status >= 500 ? colors.red : status >= 400 ? colors.yellow : colors.green
      return `${colors.bold(request.method)} ${request.path} ${paint(String(status))} ${colors.gray(`${request.ms} ms`)}`
    },
  })
  return {
    write(line: string) {
      out.write(prettify(forPerson(JSON.parse(line) as Record<string, unknown>)))
    },
  }
}

/** A request line's fields moved under `request`, its id dropped: the line is the request. */
function forPerson(log: Record<string, unknown>): Record<string, unknown> {
  if (log.msg !== 'request') return log
  const { method, path, status, ms, requestId: _requestId, ...rest } = log
  return { ...rest, request: { method, path, status, ms } }
}

/** The process's logger: JSON lines to `destination` (stdout by default), and errors without the data of the statement that failed. */
export function createLogger(level: Config['LOG_LEVEL'], destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, serializers: { err: serializeError } }, destination)
}
