/** The one error type for bad input data: it names the file, the line or record, and what is wrong. */

/** An input error naming the file, the line (1-based; 0 = whole file) and what is wrong. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly lineNumber: number,
    message: string,
  ) {
    super(lineNumber > 0 ? `${file}:${lineNumber}: ${message}` : `${file}: ${message}`);
    this.name = "DataError";
  }
}
