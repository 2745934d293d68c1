import type { Logger } from 'pino'
import { IncompleteAnswerError } from '../db/errors.js'

export interface GroupCommitOptions<Request, Result> {
  logger: Logger
  /** A batch closes at this many requests… */
  batchMax: number
  /**
   * …or this long after its first request, whichever comes first; with 0, at the end of
   * the event loop's turn, so the requests that arrived together go together at no wait.
   */
  batchMs: number
  /** Does a whole batch at once: one result per request, in order. Throwing fails the batch. */
  together: (requests: Request[]) => Promise<PromiseSettledResult<Result>[]>
  /** Does one request on its own, with the checks `together` makes: a failed batch's fallback. */
  alone: (request: Request) => Promise<Result>
  /** A failure that doing the requests one by one would meet as well: every request gets it. */
  failsEveryRequest: (error: unknown) => boolean
  /**
   * Requests with the same key are done once while the first is in flight, in its batch or
   * another: the first is sent, and each repeat gets `repeat(first's result, repeat)`, so a
   * repeat never fails a batch for its duplicate. Undefined keys are never repeats.
   */
  keyOf?: (request: Request) => string | undefined
  repeat?: (result: Result, request: Request) => Result
}

interface Pending<Request, Result> {
  request: Request
  resolve: (result: Result) => void
  reject: (error: unknown) => void
}

/** Batches in flight at once: one filling while another commits keeps the database busy. */
const MAX_IN_FLIGHT = 2

/**
 * Group commit: requests submitted at about the same moment are done together, and each is
 * answered once its batch is done. A batch closes at `batchMax` requests or `batchMs` after
 * its first, whichever comes first, and goes as soon as fewer than MAX_IN_FLIGHT batches are
 * running: under load the requests that arrive meanwhile gather into the next one by
 * themselves. A batch that fails as a whole is done again request by request, so no request
 * fails for another's sake.
 */
export function createGroupCommit<Request, Result>(options: GroupCommitOptions<Request, Result>) {
  const { logger, batchMax, batchMs } = options
  let queue: Pending<Request, Result>[] = []
  let cancelScheduled: (() => void) | undefined
  let inFlight = 0
  /** Requests in flight by key, with the repeats that wait for their results. */
  const byKey = new Map<string, { first: Pending<Request, Result>; repeats: Pending<Request, Result>[] }>()
  const counters = { batches: 0, requests: 0, batchesDoneOneByOne: 0 }

  function submit(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      queue.push({ request, resolve, reject })
      if (queue.length >= batchMax) dispatch()
      else cancelScheduled ??= schedule(dispatch)
    })
  }

  function schedule(work: () => void): () => void {
    if (batchMs > 0) {
      const timer = setTimeout(work, batchMs)
      return () => clearTimeout(timer)
    }
    const immediate = setImmediate(work)
    return () => clearImmediate(immediate)
  }

  function dispatch(): void {
    cancelScheduled?.()
    cancelScheduled = undefined
    while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
      const batch = queue.slice(0, batchMax)
      queue = queue.slice(batch.length)
      inFlight++
      void runBatch(batch).finally(() => {
        inFlight--
        // What arrived meanwhile has waited for this batch: it goes now.
        if (queue.length > 0) dispatch()
      })
    }
  }

  async function runBatch(batch: Pending<Request, Result>[]): Promise<void> {
    const sent = withoutRepeats(batch)
    if (sent.length === 0) return
    let results: PromiseSettledResult<Result>[]
    counters.batches++
    counters.requests += sent.length
    try {
      results = await options.together(sent.map((pending) => pending.request))
    } catch (error) {
      if (options.failsEveryRequest(error)) {
        results = sent.map(() => ({ status: 'rejected', reason: error }))
      } else {
        logger.warn({ err: error, requests: sent.length }, 'a batch failed; doing its requests one by one')
        counters.batchesDoneOneByOne++
        results = []
        for (const pending of sent) results.push(await settle(options.alone(pending.request)))
      }
    }
    const answered = sent.filter((_, i) => results[i] !== undefined).length
    if (answered < sent.length) {
      logger.error(
        { requests: sent.length, answered },
        'a batch came back without an answer for every request',
      )
    }
    sent.forEach((pending, i) => {
      const result = results[i] ?? unanswered()
      answer(pending, result)
      const key = options.keyOf?.(pending.request)
      const entry = key === undefined ? undefined : byKey.get(key)
      if (!entry || entry.first !== pending) return
      byKey.delete(key!)
      for (const repeat of entry.repeats) {
        answer(
          repeat,
          result.status === 'fulfilled' && options.repeat
            ? settleNow(() => options.repeat!(result.value, repeat.request))
            : result,
        )
      }
    })
  }

  /** The batch's requests to send; repeats of a request in flight wait for its result instead. */
  function withoutRepeats(batch: Pending<Request, Result>[]): Pending<Request, Result>[] {
    const sent: Pending<Request, Result>[] = []
    for (const pending of batch) {
      const key = options.keyOf?.(pending.request)
      const entry = key === undefined ? undefined : byKey.get(key)
      if (entry) entry.repeats.push(pending)
      else {
        if (key !== undefined) byKey.set(key, { first: pending, repeats: [] })
        sent.push(pending)
      }
    }
    return sent
  }

  return { submit, stats: () => ({ ...counters }) }
}

const unanswered = (): PromiseRejectedResult => ({
  status: 'rejected',
  reason: new IncompleteAnswerError('the batch came back without an answer for this request'),
})

function answer<Result>(pending: Pending<unknown, Result>, result: PromiseSettledResult<Result>): void {
  if (result.status === 'fulfilled') pending.resolve(result.value)
  else pending.reject(result.reason)
}

/** `work`'s value or exception as a settled result. */
export function settleNow<T>(work: () => T): PromiseSettledResult<T> {
  try {
    return { status: 'fulfilled', value: work() }
  } catch (reason) {
    return { status: 'rejected', reason }
  }
}

function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  )
}
