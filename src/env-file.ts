import { readFileSync } from 'node:fs'
import { ConfigError } from './config.js'

const ASSIGNMENT = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=(.*)$/
const QUOTES = ['"', "'", '`']

/**
 * The first line of a .env file that is not `NAME=value`, a comment or blank, or undefined.
 * Node's parser skips such a line without a word and can take the next assignment with it
 * (`PORT 3000` on one line loses the line after it), so it must stop the start instead.
 * A quoted value may span lines; one never closed is a mistake too, though Node would keep
 * the quote as text.
 */
export function findMalformedLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/)
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const value = ASSIGNMENT.exec(line)?.[1]
    if (value === undefined) return `line ${index + 1} is not NAME=value`
    const opened = value.trimStart()
    const quote = QUOTES.find((candidate) => opened.startsWith(candidate))
    if (!quote || opened.indexOf(quote, 1) !== -1) continue
    const closing = lines.findIndex((later, at) => at > index && later.includes(quote))
    if (closing === -1) return `line ${index + 1} opens a ${quote}quoted value that is never closed`
    index = closing
  }
  return undefined
}

/**
 * Reads `path` (default `.env` in the working directory) into process.env with Node's own
 * loader, which leaves variables already set alone: the real environment wins. No file is
 * the usual case and says nothing; a file that cannot be read or parsed stops the start.
 * Whether it was loaded.
 */
export function loadEnvFile(path = '.env'): boolean {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new ConfigError(`Cannot read ${path}: ${(error as Error).message}`)
  }
  // Only the line number: a malformed line may hold a secret.
  const problem = findMalformedLine(text)
  if (problem) throw new ConfigError(`Invalid ${path}: ${problem}`)
  process.loadEnvFile(path)
  return true
}
