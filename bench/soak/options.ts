import { parseArgs } from 'node:util'

export interface SoakOptions {
  seconds: number
  clients: number
  rooms: number
  /** Messages per second over all rooms. */
  rate: number
  /** Share of clients stalled at any moment, in percent. */
  stallPercent: number
  /** A stall lasts a random 1 ms … stallMaxMs. */
  stallMaxMs: number
  /** Clients disconnected per second. */
  churn: number
  /** Percent of reconnects abandoned before the stream starts. */
  abortPercent: number
  /** Seconds between kills of the server's LISTEN connection; 0 turns them off. */
  killEvery: number
  drainSeconds: number
  /** Message bodies are padded to this many characters. */
  bodyBytes: number
  out: string
}

const USAGE = `Usage: npm run soak -- [options]

  --seconds N        how long producers run (60)
  --clients N        SSE clients (2000)
  --rooms N          rooms, clients spread evenly (20)
  --rate N           messages per second over all rooms, half HTTP, half SQL (100)
  --stall-percent N  percent of clients not reading at any moment (3)
  --stall-max-ms N   a stall lasts up to this long (8000)
  --churn N          clients disconnected and reconnected per second (clients / 200)
  --abort-percent N  percent of reconnects abandoned a few ms after the request (10)
  --kill-every N     seconds between kills of the server's LISTEN connection; 0: never (15)
  --drain-seconds N  how long clients may take to catch up at the end (15)
  --body-bytes N     message body length (120)
  --out PATH         JSON results (bench/results/soak-latest.json)

DATABASE_URL set: a fresh database on that server, dropped at the end; unset: an
embedded PostgreSQL in a temporary directory.`

/** Parses the command line; prints usage and exits on --help or a bad value. */
export function parseSoakOptions(argv = process.argv.slice(2)): SoakOptions {
  const number = { type: 'string' } as const
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: number,
      clients: number,
      rooms: number,
      rate: number,
      'stall-percent': number,
      'stall-max-ms': number,
      churn: number,
      'abort-percent': number,
      'kill-every': number,
      'drain-seconds': number,
      'body-bytes': number,
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const read = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (
      typeof raw !== 'string' ||
      raw.trim() === '' ||
      !Number.isFinite(value) ||
      value < min ||
      value > max
    ) {
      console.error(`--${name} must be a number from ${min} to ${max}\n\n${USAGE}`)
      process.exit(2)
    }
    return value
  }
  const clients = Math.round(read('clients', 2000, 1, 100_000))
  return {
    seconds: read('seconds', 60, 1, 86_400),
    clients,
    rooms: Math.round(read('rooms', 20, 1, 10_000)),
    rate: read('rate', 100, 0, 100_000),
    stallPercent: read('stall-percent', 3, 0, 100),
    stallMaxMs: read('stall-max-ms', 8_000, 1, 600_000),
    churn: Math.round(read('churn', Math.max(1, Math.round(clients / 200)), 0, 100_000)),
    abortPercent: read('abort-percent', 10, 0, 100),
    killEvery: read('kill-every', 15, 0, 86_400),
    drainSeconds: read('drain-seconds', 15, 1, 3_600),
    bodyBytes: Math.round(read('body-bytes', 120, 1, 2_000)),
    out: values.out ?? 'bench/results/soak-latest.json',
  }
}
