/**
 * Subscription continuity during a window, from the plan's own watchers on the window's
 * profile: a sink on the recorder that counts while a capture is open.
 */
import type { Sample, SampleSink } from "../samples.js";
import { profileOf } from "./recentProbes.js";
import type { ContinuityObservation } from "./windowTypes.js";

export interface ContinuityCapture {
  read(): ContinuityObservation;
  close(): void;
}

interface Open {
  chain: string;
  profile: string;
  counts: ContinuityObservation;
}

export class ContinuityTap implements SampleSink {
  private readonly open = new Set<Open>();

  accept(sample: Sample): void {
    if (sample.kind !== "continuity" || this.open.size === 0) return;
    const profile = profileOf(sample.route);
    for (const o of this.open) {
      if (o.chain !== sample.chain || o.profile !== profile) continue;
      const c = o.counts;
      switch (sample.event) {
        case "gap":
          c.gaps += 1;
          c.missingBlocks += sample.count;
          break;
        case "duplicate":
          c.duplicates += sample.count;
          break;
        case "delivered":
          if (sample.backfilled === true) c.backfilledBlocks += 1;
          break;
        case "stall":
          // a stall is two samples (opened, then closed with its length): count the opening one
          if (sample.delayMs === null) c.stalls += 1;
          break;
        default:
          break;
      }
    }
  }

  /** Counts continuity samples of `chain` on `profile` until closed. */
  capture(chain: string, profile: string): ContinuityCapture {
    const o: Open = { chain, profile, counts: { gaps: 0, missingBlocks: 0, duplicates: 0, backfilledBlocks: 0, stalls: 0, failovers: 0 } };
    this.open.add(o);
    return {
      read: () => ({ ...o.counts }),
      close: () => void this.open.delete(o),
    };
  }
}
