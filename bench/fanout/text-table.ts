/** A column: its header and how a row fills it. Kept together so the two cannot drift apart. */
export type Column<T> = [header: string, cell: (row: T) => string]

/** Right-aligned columns under a header, the first column left-aligned. */
export function table<T>(columns: Column<T>[], rows: T[]): string {
  const cells = rows.map((row) => columns.map(([, cell]) => cell(row)))
  const headers = columns.map(([header]) => header)
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)))
  const line = (values: string[]) =>
    values.map((value, i) => (i === 0 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!))).join('  ')
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}
