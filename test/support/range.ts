/** The integers from `from` to `to`, both included: the seqs a test expects, in order. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
