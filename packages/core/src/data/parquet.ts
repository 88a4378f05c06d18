/**
 * Parquet datasets (the Hugging Face Hub's format) read with hyparquet, a pure-JavaScript reader.
 *
 * hyparquet's API is asynchronous and ortrl's dataset readers are synchronous (they run while a
 * trainer's bindings are built), so the file is decoded in a worker thread while this thread waits on
 * an Atomics signal and then takes the rows with `receiveMessageOnPort`. Codecs: uncompressed and
 * Snappy (hyparquet), gzip and Brotli (node:zlib). Values arrive as JSON values (INT64 as numbers,
 * timestamps as ISO strings, binary as byte lists); text columns must be valid UTF-8.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";
import { DataError } from "./data-error.js";
import type { JsonlRecord } from "./records.js";
import { firstInvalidUtf8 } from "./utf8.js";

/** Longest wait for the worker, in milliseconds. */
const TIMEOUT_MS = 10 * 60 * 1000;

/** The worker (CommonJS, evaluated): reads `bytes` with hyparquet and posts `{ rows }`, `{ invalid }` or `{ error }`. */
const WORKER = `
const { workerData } = require("node:worker_threads");
const zlib = require("node:zlib");
const { port, signal, url, bytes } = workerData;
const BAD = "\\u0000ortrl:invalid-utf8";
const finish = (msg) => { port.postMessage(msg); Atomics.store(signal, 0, 1); Atomics.notify(signal, 0); };
(async () => {
  const { parquetReadObjects, toJson } = await import(url);
  const strict = new TextDecoder("utf-8", { fatal: true });
  let invalid = false;
  const parsers = {
    stringFromBytes(b) {
      if (!b) return b;
      try { return strict.decode(b); } catch { invalid = true; return { [BAD]: b }; }
    },
  };
  const compressors = { GZIP: (b) => zlib.unzipSync(b), BROTLI: (b) => zlib.brotliDecompressSync(b) };
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const rows = await parquetReadObjects({ file, parsers, compressors });
  if (invalid) {
    const find = (v) => {
      if (v === null || typeof v !== "object") return undefined;
      if (BAD in v) return v[BAD];
      for (const x of Object.values(v)) { const f = find(x); if (f) return f; }
      return undefined;
    };
    for (let i = 0; i < rows.length; i++) {
      for (const [column, v] of Object.entries(rows[i])) {
        const b = find(v);
        if (b) return finish({ invalid: { row: i + 1, column, bytes: b } });
      }
    }
  }
  finish({ rows: toJson(rows) });
})().catch((e) => finish({ error: String((e && e.message) || e) }));
`;

type WorkerReply = { rows: Record<string, unknown>[] } | { invalid: { row: number; column: string; bytes: Uint8Array } } | { error: string };

/**
 * The rows of a Parquet file as records; a record's `line` is its 1-based row and `where` is "row N".
 * @param bytes the whole file (decompressed when it came gzip-compressed).
 * @throws DataError naming the file for a file hyparquet cannot read (e.g. an unsupported codec), and
 *   the row and column of a text value that is not valid UTF-8.
 */
export function readParquetRecords(file: string, bytes: Uint8Array): JsonlRecord[] {
  const reply = runWorker(file, bytes);
  if ("error" in reply) throw new DataError(file, 0, `cannot read Parquet (${reply.error})`);
  if ("invalid" in reply) {
    const { row, column, bytes: b } = reply.invalid;
    throw new DataError(file, 0, `row ${row}: column '${column}': invalid UTF-8 at byte offset ${firstInvalidUtf8(b)} of the value`);
  }
  return reply.rows.map((record, i) => ({ line: i + 1, where: `row ${i + 1}`, record }));
}

function runWorker(file: string, bytes: Uint8Array): WorkerReply {
  const url = pathToFileURL(createRequire(import.meta.url).resolve("hyparquet")).href;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { port: port2, signal, url, bytes }, transferList: [port2] });
  try {
    if (Atomics.wait(signal, 0, 0, TIMEOUT_MS) === "timed-out") throw new DataError(file, 0, `reading Parquet took more than ${TIMEOUT_MS / 60_000} minutes`);
    const reply = receiveMessageOnPort(port1)?.message as WorkerReply | undefined;
    if (!reply) throw new DataError(file, 0, "cannot read Parquet (the reader stopped without a result)");
    return reply;
  } finally {
    port1.close();
    void worker.terminate();
  }
}
