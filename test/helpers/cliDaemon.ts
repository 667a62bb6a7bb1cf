import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { waitFor } from "./waitFor.js";

export interface CliDaemon {
  child: ChildProcessWithoutNullStreams;
  /** Everything it wrote to stdout and stderr so far. */
  log(): string;
  /** host:port it logged at start. */
  listen: string;
}

/** `lasso-canary run --config <config>` as a child process (tsx), once it has logged its listen address. */
export async function spawnCliDaemon(config: string, env: Record<string, string>): Promise<CliDaemon> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run", "--config", config], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (b: Buffer) => (log += b.toString()));
  child.stderr.on("data", (b: Buffer) => (log += b.toString()));
  try {
    const listen = await waitFor(() => /"listen":"([^"]+)"/.exec(log)?.[1], { timeoutMs: 30_000, message: "the daemon to log its listen address" });
    return { child, log: () => log, listen };
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}
