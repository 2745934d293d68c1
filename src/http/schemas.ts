import { z } from '@hono/zod-openapi'
import { errorCodes } from './errors.js'

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string(),
      until: z
        .string()
        .nullable()
        .optional()
        .openapi({ description: 'For `muted`: when the mute ends; null when only lifting it does' }),
    }),
  })
  .openapi('Error')

export const RoomIdParams = z.object({
  id: z
    .string()
    .regex(/^[0-9]+$/, 'must be a positive integer')
    .transform(Number)
    .refine((id) => id > 0, 'must be a positive integer')
    .openapi({ param: { name: 'id', in: 'path' }, type: 'integer', example: 1 }),
})

/** A seq in a query string: a non-negative integer. */
export const seqParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/**
 * `min_cursor`: a position the client already holds (a change cursor of the room, or of the
 * caller's own events), so that a read replica behind it does not answer (db/read-pool.ts).
 */
export const minCursorParam = (description: string) => seqParam.optional().openapi({ description })

/** What a room page's min_cursor holds. */
export const roomMinCursor = minCursorParam(
  "The room's change cursor the client already holds (a stream's last `id:`, an earlier page's `cursor`): the answer is never older",
)

export const MessageParams = RoomIdParams.extend({
  seq: z
    .string()
    .regex(/^[0-9]{1,15}$/, 'must be a positive integer')
    .transform(Number)
    .refine((seq) => seq > 0, 'must be a positive integer')
    .openapi({ param: { name: 'seq', in: 'path' }, type: 'integer', example: 1 }),
})

/**
 * A `cursor` query parameter: a page's `next_cursor`, parsed by `parse` (undefined when it
 * is not one), of at most `maxLength` characters.
 */
export const cursorParam = <T>(parse: (text: string) => T | undefined, maxLength = 200) =>
  z
    .string()
    .max(maxLength)
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined
      const cursor = parse(text)
      if (!cursor) ctx.addIssue({ code: 'custom', message: 'is not a next_cursor this API handed out' })
      return cursor
    })
    .openapi({ type: 'string', description: 'The `next_cursor` of the previous page' })

export const errorResponses = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Missing or invalid token', content: { 'application/json': { schema: ErrorSchema } } },
} as const

export const rateLimitedResponse = {
  429: {
    description: 'Too many of these lately (rate_limited); see Retry-After',
    content: { 'application/json': { schema: ErrorSchema } },
  },
} as const

export const notFoundResponse = {
  404: { description: 'No such room', content: { 'application/json': { schema: ErrorSchema } } },
} as const

export const messageNotFoundResponse = {
  404: {
    description: 'No such room (room_not_found), or no such message in it (message_not_found)',
    content: { 'application/json': { schema: ErrorSchema } },
  },
} as const

export const jsonContent = <T>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export const bearerSecurity = [{ bearerAuth: [] }]
