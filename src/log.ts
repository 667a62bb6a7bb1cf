import pino, { type Logger } from "pino";
import type { LogLevel } from "./plan/index.js";

export type { Logger };

/**
 * JSON logs on stdout. URLs may embed API keys: the fields that can carry one are
 * censored wholesale, and code that logs a URL anywhere else passes it through redactUrl.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "lasso-canary" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        // A target's configured headers carry credentials: censored whole, like URLs.
        paths: ["url", "*.url", "targetUrl", "*.targetUrl", "headers", "*.headers", "apiKey", "*.apiKey"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
