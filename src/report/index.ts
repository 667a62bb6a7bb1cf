export { buildReport, type ReportSource } from "./build.js";
export { renderMarkdown } from "./markdown.js";
export { ReportRunner, type ReportRunnerOptions } from "./runner.js";
export { parseReportQuery, parseTimeParam, TimeParamError, type ReportQuery, type TimeParamName } from "./time.js";
export * from "./types.js";
