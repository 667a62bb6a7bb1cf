/**
 * Worker thread entry: builds reports on its own read-only SQLite connection, so a 30-day
 * report never runs on the daemon's event loop. Started by ReportRunner.
 */
import { parentPort, workerData } from "node:worker_threads";
import { z } from "zod";
import { StoreReader } from "../store/reader.js";
import { buildReport } from "./build.js";
import { RequestMessage, type ResponseMessage } from "./protocol.js";

const Data = z.object({ path: z.string() });

const port = parentPort;
if (!port) throw new Error("report worker must run in a worker thread");
const { path } = Data.parse(workerData);
let reader: StoreReader | null = null;

port.on("message", (raw: unknown) => {
  const msg = RequestMessage.safeParse(raw);
  if (!msg.success) {
    const id = z.object({ id: z.number() }).safeParse(raw);
    if (id.success) port.postMessage({ id: id.data.id, ok: false, error: `bad report request: ${msg.error.message}` });
    return;
  }
  const { id, range, slos, now } = msg.data;
  let reply: ResponseMessage;
  try {
    reader ??= StoreReader.open(path);
    reply = { id, ok: true, report: buildReport(range, slos, reader, now) };
  } catch (err) {
    reader?.close();
    reader = null;
    reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
