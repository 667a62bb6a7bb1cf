import { readdirSync, readFileSync } from "node:fs";

/** pids of running anvil processes whose command line names this chain id. */
export function anvilPids(chainId: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const i = argv.indexOf("--chain-id");
      if (argv[0]?.endsWith("/anvil") && argv[i + 1] === String(chainId)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** Every running process below `root` in the process tree. */
export function descendants(root: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let pid: number | null = Number(entry);
    while (pid !== null && pid > 1) {
      pid = parentOf(pid);
      if (pid === root) {
        out.push(Number(entry));
        break;
      }
    }
  }
  return out;
}
