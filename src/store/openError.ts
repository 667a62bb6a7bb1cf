import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/** The store's file could not be opened (or created, or migrated): names the path and why. */
export class StoreOpenError extends Error {
  /** `mustExist`: a reader, which never creates the file. */
  constructor(readonly path: string, cause: unknown, mustExist = false) {
    super(`cannot open store ${path}: ${explain(path, cause, mustExist)}`, { cause });
    this.name = "StoreOpenError";
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "error";
}

/** SQLite says little ("unable to open database file"); the file system says which part is wrong. */
function explain(file: string, cause: unknown, mustExist: boolean): string {
  const dir = path.dirname(file);
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  } catch (err) {
    return code(err) === "ENOENT" ? `directory ${dir} does not exist` : `cannot reach directory ${dir} (${code(err)})`;
  }
  try {
    if (statSync(file).isDirectory()) return `${file} is a directory, not a database file`;
  } catch (err) {
    // Without a file the writer creates one, if the directory lets it; a reader cannot.
    if (mustExist && code(err) === "ENOENT") return "no such file (the daemon creates it when it first runs)";
  }
  for (const [target, what] of [[dir, "directory"], [file, "file"]] as const) {
    try {
      accessSync(target, constants.R_OK | constants.W_OK);
    } catch (err) {
      if (code(err) !== "ENOENT") return `${what} ${target} is not readable and writable (${code(err)})`;
    }
  }
  return cause instanceof Error ? cause.message : String(cause);
}
