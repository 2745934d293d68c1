import { z } from '@hono/zod-openapi'
import type { ErrorCode } from './errors.js'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Length in Unicode code points, so an emoji counts as one character. */
export const codePoints = (text: string) => {
  let count = 0
  for (const _ of text) count++
  return count
}

interface TextRules {
  field: string
  max: number
  /** Codes for an empty value and for one over `max`; both default to validation_failed. */
  emptyCode?: ErrorCode
  tooLongCode?: ErrorCode
  tooLongStatus?: 400 | 422
  invalidCode?: ErrorCode
}

/**
 * A trimmed text field that PostgreSQL will store exactly as sent: no NUL (text cannot
 * hold it) and no lone UTF-16 surrogate (it would be replaced on the way in).
 * Each issue carries the status and code the validation hook answers with.
 */
export function trimmedText(rules: TextRules) {
  const invalidCode = rules.invalidCode ?? 'validation_failed'
  return z
    .string()
    .transform((value) => value.trim())
    .superRefine((value, ctx) => {
      if (value.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `${rules.field} must not be empty`,
          params: { status: 400, code: rules.emptyCode ?? 'validation_failed' },
        })
      } else if (value.includes('\0') || LONE_SURROGATE.test(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `${rules.field} contains a NUL character or invalid Unicode`,
          params: { status: 400, code: invalidCode },
        })
      } else if (codePoints(value) > rules.max) {
        ctx.addIssue({
          code: 'custom',
          message: `${rules.field} must be at most ${rules.max} characters`,
          params: { status: rules.tooLongStatus ?? 400, code: rules.tooLongCode ?? 'validation_failed' },
        })
      }
    })
}
