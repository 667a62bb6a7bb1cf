import type { Sample, SampleSink } from "./samples.js";

/** The one place producers hand samples to; it fans them out to every sink. */
export class Recorder {
  private readonly sinks: SampleSink[] = [];

  constructor(private readonly onSinkError: (err: unknown, sink: SampleSink) => void = () => {}) {}

  addSink(sink: SampleSink): void {
    this.sinks.push(sink);
  }

  record(sample: Sample): void {
    for (const sink of this.sinks) {
      try {
        sink.accept(sample);
      } catch (err) {
        // A failing sink (full disk, bad label) must never take a probe down with it.
        this.onSinkError(err, sink);
      }
    }
  }
}
