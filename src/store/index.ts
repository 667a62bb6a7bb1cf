export { SampleStore, type StoreStats } from "./store.js";
export { StoreOpenError } from "./openError.js";
export type { StoreLogger, StoreOptions } from "./options.js";
export {
  StoreReader, type AggregateResult, type ConsistencyAggregate, type ContinuityAggregate, type RowsRead, type SeriesAggregate,
  type TimeRange,
} from "./reader.js";
export { ANOMALY_EVENTS, EVENT_CODES, type AnomalyEvent, type EventStats } from "./continuity.js";
export { LatencyCounts, LATENCY_DIGITS, LATENCY_RELATIVE_ERROR } from "./latency.js";
export { MIGRATIONS, SCHEMA_VERSION, SchemaVersionError, migrate, openDatabase, type Migration } from "./schema.js";
export type { ReadPlan } from "./segments.js";
export { ChaosWindowStore, listChaosWindows, type ChaosWindowRecord, type WindowQuery, type WindowStatus, type WindowTrigger } from "./chaosWindows.js";
export { BaselineExistsError, BaselineStore, getBaseline, listBaselines, type BaselineRecord, type BaselineSummary } from "./baselines.js";
