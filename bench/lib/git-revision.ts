import { execFileSync } from 'node:child_process'

export interface Revision {
  commit: string
  /** Uncommitted changes under src/ or sql/ or drizzle/: the figures are not those of `commit` alone. */
  dirty: boolean
}

/** The code a benchmark ran, so a figure can be traced back to it; undefined outside a git checkout. */
export function describeRevision(root: string): Revision | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'src', 'sql', 'drizzle') !== '',
    }
  } catch {
    return undefined
  }
}

/** `abc1234`, `abc1234 + uncommitted changes`, or `unknown` outside a git checkout. */
export function formatRevision(revision: Revision | undefined): string {
  if (!revision) return 'unknown'
  return revision.dirty ? `${revision.commit} + uncommitted changes` : revision.commit
}
