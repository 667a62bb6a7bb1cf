import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface DemoProcess {
  child: ChildProcess;
  /** Everything the demo wrote so far, stdout and stderr interleaved. */
  output(): string;
}

/** `npm run demo -- ARGS` (tsx sim/demo.ts) on an ephemeral port with its store in `dir`. */
export function spawnDemo(dir: string, args: string[] = []): DemoProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "sim/demo.ts", ...args], {
    env: { ...process.env, CANARY_LISTEN: "127.0.0.1:0", CANARY_DB: path.join(dir, "demo.db") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  return { child, output: () => out };
}
