export interface ClientRecord {
  index: number
  roomId: number
  startSeq: number
  seqs: readonly number[]
}

export interface DeliveryVerdict {
  /** Σ over clients of final − startSeq: every seq each client had to receive. */
  expected: number
  /** Distinct expected seqs received. */
  delivered: number
  lost: number
  /** Receipts of a seq the client already had. */
  duplicated: number
  /** First receipts of a seq lower than one received before it. */
  outOfOrder: number
  /** Receipts of a seq outside startSeq+1 … final. */
  outOfRange: number
  clientsWithLoss: number
  clientsWithDuplicates: number
  /** A few offending clients, described for a human. */
  examples: string[]
}

interface ClientTally {
  span: number
  delivered: number
  duplicated: number
  outOfOrder: number
  outOfRange: number
  /** Which of startSeq+1 … final arrived, by offset from startSeq. */
  seen: Uint8Array
}

function tallyClient(client: ClientRecord, final: number): ClientTally {
  const span = Math.max(0, final - client.startSeq)
  const tally = {
    span,
    delivered: 0,
    duplicated: 0,
    outOfOrder: 0,
    outOfRange: 0,
    seen: new Uint8Array(span + 1),
  }
  let highest = client.startSeq
  for (const seq of client.seqs) {
    if (seq <= client.startSeq || seq > final) {
      tally.outOfRange++
      continue
    }
    const slot = seq - client.startSeq
    if (tally.seen[slot]) tally.duplicated++
    else {
      tally.seen[slot] = 1
      tally.delivered++
      if (seq < highest) tally.outOfOrder++
    }
    if (seq > highest) highest = seq
  }
  return tally
}

/**
 * Checks that every client received exactly startSeq+1 … final of its room, each once and
 * in order, across all its reconnections.
 */
export function verifyDeliveries(
  clients: readonly ClientRecord[],
  finalSeqs: ReadonlyMap<number, number>,
): DeliveryVerdict {
  const verdict: DeliveryVerdict = {
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    outOfRange: 0,
    clientsWithLoss: 0,
    clientsWithDuplicates: 0,
    examples: [],
  }
  for (const client of clients) {
    const final = finalSeqs.get(client.roomId) ?? 0
    const t = tallyClient(client, final)
    const lost = t.span - t.delivered
    verdict.expected += t.span
    verdict.delivered += t.delivered
    verdict.lost += lost
    verdict.duplicated += t.duplicated
    verdict.outOfOrder += t.outOfOrder
    verdict.outOfRange += t.outOfRange
    if (lost > 0) verdict.clientsWithLoss++
    if (t.duplicated > 0) verdict.clientsWithDuplicates++
    if (lost + t.duplicated + t.outOfOrder + t.outOfRange > 0 && verdict.examples.length < 5) {
      verdict.examples.push(
        `client ${client.index} (room ${client.roomId}, start ${client.startSeq}, final ${final}): ` +
          `lost ${lost} [${missingRanges(t.seen, client.startSeq)}], duplicated ${t.duplicated}, ` +
          `out of order ${t.outOfOrder}, out of range ${t.outOfRange}`,
      )
    }
  }
  return verdict
}

/** The seqs not marked in `seen`, as ranges like "12-15, 40". */
function missingRanges(seen: Uint8Array, startSeq: number, limit = 8): string {
  const ranges: string[] = []
  for (let slot = 1; slot < seen.length && ranges.length < limit; slot++) {
    if (seen[slot]) continue
    let last = slot
    while (last + 1 < seen.length && !seen[last + 1]) last++
    ranges.push(last === slot ? `${startSeq + slot}` : `${startSeq + slot}-${startSeq + last}`)
    slot = last
  }
  return ranges.join(', ')
}
