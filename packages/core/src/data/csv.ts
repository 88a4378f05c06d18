/**
 * CSV / TSV datasets (as exported from the Hugging Face Hub or a spreadsheet): the first row names the
 * columns, every other non-empty row is a record whose fields are strings. Parsed with csv-parse
 * (RFC 4180 quoting; multi-line quoted fields). CRLF line ends are read as LF, also inside quoted
 * fields. A record's `line` is the file line it starts on.
 */
import { parse } from "csv-parse/sync";
import { DataError } from "./data-error.js";
import type { JsonlRecord } from "./records.js";

interface CsvRow {
  record: Record<string, string>;
  raw: string;
  info: { lines: number };
}

/**
 * Parses CSV (`delimiter` ",") or TSV ("\t") text into records, one per data row.
 * @throws DataError naming the file and line for malformed CSV (an unclosed quote, a row with another
 *   number of fields than the header), or naming the columns for an empty or repeated column name.
 */
export function parseCsvRecords(file: string, text: string, delimiter: "," | "\t"): JsonlRecord[] {
  const lf = text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text;
  let rows: CsvRow[];
  try {
    rows = parse(lf, {
      delimiter,
      columns: (header: string[]) => checkHeader(file, header),
      skip_empty_lines: true,
      info: true,
      raw: true,
    }) as unknown as CsvRow[];
  } catch (e) {
    if (e instanceof DataError) throw e;
    const lines = (e as { lines?: number }).lines ?? 0;
    throw new DataError(file, lines, `invalid ${delimiter === "," ? "CSV" : "TSV"} (${(e as Error).message})`);
  }
  return rows.map(({ record, raw, info }) => {
    // info.lines is the line the record ends on; raw holds the record's text (after skipped blank lines).
    const body = raw.replace(/^\n+/, "").replace(/\n$/, "");
    let inner = 0;
    for (let i = body.indexOf("\n"); i >= 0; i = body.indexOf("\n", i + 1)) inner++;
    return { line: info.lines - inner, record };
  });
}

function checkHeader(file: string, header: string[]): string[] {
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (!h.trim()) throw new DataError(file, 1, `column ${i + 1} of the header has no name`);
    if (seen.has(h)) throw new DataError(file, 1, `column '${h}' appears twice in the header`);
    seen.add(h);
  });
  return header;
}
