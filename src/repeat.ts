/**
 * Runs `task` every `everyMs`, counted from the end of the last run, so runs never overlap
 * however long one takes; a run that fails is reported and the next comes as usual. The
 * timer never keeps the process alive on its own.
 */
export function repeatEvery(
  everyMs: number,
  task: () => Promise<unknown>,
  onError: (error: unknown) => void,
) {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      running = task()
        .then(() => {}, onError)
        .finally(() => {
          running = undefined
          schedule()
        })
    }, everyMs)
    timer.unref()
  }

  return {
    start: schedule,
    /** Stops scheduling and waits for a run in progress. */
    async stop(): Promise<void> {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
