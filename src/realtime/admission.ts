export interface AdmissionLimits {
  maxStreams: number
  maxStreamsPerUser: number
}

export type Refusal = 'server_full' | 'user_full'

/**
 * Counts this process's open streams, in total and per user, so that a flood of streams
 * is refused with a clear answer before the process runs out of file descriptors.
 * Per process on purpose: it protects this process's resources.
 */
export function createAdmission(limits: AdmissionLimits) {
  let open = 0
  const perUser = new Map<string, number>()
  return {
    /** Takes a slot for `userId`, or says why not. */
    admit(userId: string): Refusal | undefined {
      if (open >= limits.maxStreams) return 'server_full'
      const mine = perUser.get(userId) ?? 0
      if (mine >= limits.maxStreamsPerUser) return 'user_full'
      open++
      perUser.set(userId, mine + 1)
      return undefined
    },
    release(userId: string): void {
      const mine = perUser.get(userId) ?? 0
      if (mine <= 0) return
      open--
      if (mine === 1) perUser.delete(userId)
      else perUser.set(userId, mine - 1)
    },
    open: () => open,
  }
}

export type Admission = ReturnType<typeof createAdmission>
