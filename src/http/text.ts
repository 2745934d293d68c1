import { z } from '@hono/zod-openapi'
import { cleanBody, cleanName, codePoints, isUnstorable } from '../text.js'
import type { ErrorCode } from './errors.js'

interface TextRules {
  field: string
  max: number
  /** Codes for an empty value and for one over `max`; both default to validation_failed. */
  emptyCode?: ErrorCode
  tooLongCode?: ErrorCode
  tooLongStatus?: 400 | 422
  invalidCode?: ErrorCode
}

/** An identifier such as a client_id or user id: trimmed, otherwise kept as sent. */
export const trimmedText = (rules: TextRules) => textField(rules, (text) => text.trim(), 'Trimmed')

/** A room's or a user's display name: without invisible or layout-changing characters. */
export const nameText = (rules: TextRules) =>
  textField(
    rules,
    cleanName,
    'Control, format (bidi, zero-width) and line-separator characters removed, then trimmed',
  )

/** A message body: as typed, minus control characters other than newline and tab. */
export const bodyText = (rules: TextRules) =>
  textField(
    rules,
    cleanBody,
    'Line breaks made newlines, other control characters but tab removed, then trimmed',
  )

/**
 * A text field cleaned by `clean` (the rules are in src/text.ts). Text PostgreSQL cannot
 * store, a NUL or a lone UTF-16 surrogate, is refused as sent, before cleaning could hide
 * it; emptiness and the length in code points are judged after cleaning.
 * Each issue carries the status and code the validation hook answers with.
 */
function textField(rules: TextRules, clean: (text: string) => string, rule: string) {
  const description = `${rule}; at most ${rules.max} code points; no NUL or lone surrogate`
  return z
    .string()
    .openapi({ description })
    .transform((sent, ctx) => {
      const refuse = (message: string, status: 400 | 422, code: ErrorCode | undefined) => {
        ctx.addIssue({ code: 'custom', message, params: { status, code: code ?? 'validation_failed' } })
        return z.NEVER
      }
      if (isUnstorable(sent)) {
        return refuse(`${rules.field} contains a NUL character or invalid Unicode`, 400, rules.invalidCode)
      }
      const value = clean(sent)
      if (value.length === 0) return refuse(`${rules.field} must not be empty`, 400, rules.emptyCode)
      if (codePoints(value) > rules.max) {
        const message = `${rules.field} must be at most ${rules.max} characters`
        return refuse(message, rules.tooLongStatus ?? 400, rules.tooLongCode)
      }
      return value
    })
}
