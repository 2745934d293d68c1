/** What the `error` callback is told besides the error: which callback threw it. */
export interface CallbackFailure {
  /** The name the callback was registered under: an event's name, or `state`. */
  callback: string
}

type Listener = (...args: never[]) => unknown

/**
 * A stream's callbacks by name: those it was opened with and those added by `on`. Every
 * call is isolated: a callback that throws is reported, to the `error` callbacks or else to
 * the console, and is never taken for a broken connection (which would reconnect and deliver
 * the same event again), nor left to escape, where it would crash a Node process.
 */
export function createListeners(initial: object) {
  const listeners = new Map<string, Set<Listener>>()

  /** As with addEventListener, a function added twice under one name is called once. */
  function on(name: string, listener: Listener): () => void {
    let set = listeners.get(name)
    if (!set) listeners.set(name, (set = new Set()))
    set.add(listener)
    return () => off(name, listener)
  }

  function off(name: string, listener: Listener): void {
    listeners.get(name)?.delete(listener)
  }

  function report(error: unknown, callback: string): void {
    const handlers = callback === 'error' ? undefined : listeners.get('error')
    if (!handlers?.size) {
      console.error(`A Parley stream's "${callback}" callback threw:`, error)
      return
    }
    for (const handler of [...handlers]) {
      try {
        ;(handler as (error: unknown, failure: CallbackFailure) => void)(error, { callback })
      } catch (failure) {
        console.error(`A Parley stream's "error" callback threw:`, failure)
      }
    }
  }

  /** Calls each callback of `name` on its own: one that throws stops no other. */
  function emit(name: string, ...args: unknown[]): void {
    const set = listeners.get(name)
    if (!set) return
    for (const listener of [...set]) {
      try {
        const result = (listener as (...args: unknown[]) => unknown)(...args)
        // An async callback's rejection is reported too, not left unhandled.
        if (result instanceof Promise) result.catch((error: unknown) => report(error, name))
      } catch (error) {
        report(error, name)
      }
    }
  }

  for (const [name, listener] of Object.entries(initial)) {
    if (typeof listener === 'function') on(name, listener as Listener)
  }

  return { on, off, emit, report }
}
