/** `lasso-canary baseline save|list|delete`: named baselines for `report --baseline @NAME`. */
import type { Plan } from "./plan/index.js";
import { periodStats } from "./report/periodStats.js";
import { checkBaselineName, parseReportQuery, ReportQueryError, reportQueryOptions } from "./report/time.js";
import { BaselineExistsError, BaselineStore, StoreReader } from "./store/index.js";

export interface BaselineOptions {
  since?: string | undefined;
  until?: string | undefined;
  chain?: string | undefined;
  force?: boolean | undefined;
  /** The plan (loaded only by the subcommands that need it). */
  plan(): Plan;
}

export interface Refusals {
  /** Exit 2 with the message. */
  refuse(message: string): never;
  /** Exit 2 when `err` is a store that cannot be opened; returns otherwise. */
  refuseStore(err: unknown): void;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function nameArg(args: readonly string[], sub: string, r: Refusals): string {
  if (args.length !== 1) r.refuse(`baseline ${sub} takes one NAME, got ${args.length}${args.length > 0 ? `: ${args.join(" ")}` : ""}`);
  try {
    return checkBaselineName(args[0] as string);
  } catch (err) {
    if (err instanceof ReportQueryError) r.refuse(err.message);
    throw err;
  }
}

function openWritable(plan: Plan, r: Refusals): ReturnType<typeof BaselineStore.openFile> {
  try {
    return BaselineStore.openFile(plan.store.path);
  } catch (err) {
    r.refuseStore(err);
    throw err;
  }
}

function save(name: string, o: BaselineOptions, r: Refusals): void {
  const plan = o.plan();
  const now = Date.now();
  let range;
  try {
    range = parseReportQuery({ since: o.since ?? "7d", until: o.until, chain: o.chain }, now, reportQueryOptions(plan));
  } catch (err) {
    if (err instanceof ReportQueryError) r.refuse(err.message);
    throw err;
  }
  const { store, db } = openWritable(plan, r);
  try {
    const stats = periodStats(new StoreReader(db).aggregate(range));
    if (stats.series.length === 0 && stats.watchers.length === 0) {
      r.refuse(`no samples from ${iso(range.since)} to ${iso(range.until)}${range.chain ? ` on ${range.chain}` : ""}: nothing to save as baseline ${name}`);
    }
    const json = JSON.stringify(stats);
    store.save({ name, savedAt: now, since: range.since, until: range.until, chain: range.chain ?? null, stats: json }, o.force === true);
    process.stdout.write(`saved baseline ${name}: ${iso(range.since)} to ${iso(range.until)}${range.chain ? `, chain ${range.chain}` : ""}, ` +
      `${stats.series.length} series, ${stats.watchers.length} watchers, ${json.length} bytes` +
      `${range.adjusted ? ` (${range.adjusted.note})` : ""}\n`);
  } catch (err) {
    if (err instanceof BaselineExistsError) r.refuse(err.message);
    throw err;
  } finally {
    db.close();
  }
}

function list(o: BaselineOptions, r: Refusals): void {
  let reader;
  try {
    reader = StoreReader.open(o.plan().store.path);
  } catch (err) {
    r.refuseStore(err);
    throw err;
  }
  try {
    const all = reader.baselines();
    if (all.length === 0) return void process.stdout.write("no saved baselines\n");
    for (const b of all) {
      process.stdout.write(`${b.name}\t${iso(b.since)}\t${iso(b.until)}\t${b.chain ?? "all chains"}\tsaved ${iso(b.savedAt)}\t${b.bytes} bytes\n`);
    }
  } finally {
    reader.close();
  }
}

function remove(name: string, o: BaselineOptions, r: Refusals): void {
  const { store, db } = openWritable(o.plan(), r);
  try {
    if (!store.delete(name)) r.refuse(`no baseline ${JSON.stringify(name)} (see lasso-canary baseline list)`);
    process.stdout.write(`deleted baseline ${name}\n`);
  } finally {
    db.close();
  }
}

export function baselineCommand(args: readonly string[], o: BaselineOptions, r: Refusals): void {
  const [sub, ...rest] = args;
  switch (sub) {
    case "save":
      return save(nameArg(rest, "save", r), o, r);
    case "list":
      if (rest.length > 0) r.refuse(`baseline list takes no argument, got ${rest.join(" ")}`);
      return list(o, r);
    case "delete":
      return remove(nameArg(rest, "delete", r), o, r);
    default:
      r.refuse(`baseline needs save NAME, list or delete NAME${sub === undefined ? "" : `, got ${JSON.stringify(sub)}`}`);
  }
}
