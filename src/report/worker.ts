/**
 * Worker thread entry: builds reports on its own read-only SQLite connection, so a 30-day
 * report never runs on the daemon's event loop. Started by ReportRunner. It imports only
 * the store reader and the report builder: every module here costs RSS while it lives.
 */
import { parentPort, workerData } from "node:worker_threads";
import { StoreReader } from "../store/reader.js";
import { buildReport } from "./build.js";
import type { RequestMessage, ResponseMessage } from "./protocol.js";
import { ReportQueryError } from "./time.js";
import { renderReport } from "./render.js";

const port = parentPort;
if (!port) throw new Error("report worker must run in a worker thread");
const { path } = workerData as { path: string };
let reader: StoreReader | null = null;

port.on("message", ({ id, range, slos, now, format, context }: RequestMessage) => {
  let reply: ResponseMessage;
  try {
    reader ??= StoreReader.open(path);
    const source = reader;
    const report = buildReport(range, slos, source, now, context, context.watchers ?? []);
    reply = { id, ok: true, body: renderReport(format, report, () => source.timeline(range)) };
  } catch (err) {
    if (err instanceof ReportQueryError) {
      reply = { id, ok: false, error: err.message, badQuery: true };
    } else {
      reader?.close();
      reader = null;
      reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
  port.postMessage(reply);
});
