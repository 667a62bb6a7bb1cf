import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { outcomeName, WS_CONNECT, type Outcome } from "./counts.js";
import type { ProxyContext } from "./context.js";
import type { Fault } from "./faults.js";
import { resetSocket, WsSession } from "./wsSession.js";

const MAX_CONNECTIONS = 256;
const MAX_PAYLOAD = 16 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface Connecting {
  socket: Duplex;
  upstream: WebSocket;
}

/**
 * WS side of the proxy: each client handshake first opens its own upstream connection (so an
 * unreachable upstream refuses the handshake, like a down provider), then relays frames.
 * Handshakes are counted under "(ws_connect)".
 */
export class WsRelay {
  readonly #ctx: ProxyContext;
  readonly #upstreamUrl: string | undefined;
  readonly #upstreamHeaders: Record<string, string>;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  readonly #sessions = new Set<WsSession>();
  readonly #connecting = new Set<Connecting>();

  constructor(ctx: ProxyContext, upstreamUrl: string | undefined, upstreamHeaders: Record<string, string> = {}) {
    this.#ctx = ctx;
    this.#upstreamUrl = upstreamUrl;
    this.#upstreamHeaders = upstreamHeaders;
  }

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => {}); // a client reset mid-handshake is not our error
    const fault = this.#ctx.clock.current()?.fault;
    if (this.#refusedByFault(socket, fault)) return;
    if (this.#ctx.stopping.aborted || !this.#upstreamUrl || this.#sessions.size + this.#connecting.size >= MAX_CONNECTIONS) {
      this.#count(this.#upstreamUrl ? "refused" : "upstream_error");
      refuse(socket, 503);
      return;
    }
    const upstream = new WebSocket(this.#upstreamUrl, {
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: MAX_PAYLOAD,
      perMessageDeflate: false,
      headers: this.#upstreamHeaders,
    });
    const entry: Connecting = { socket, upstream };
    this.#connecting.add(entry);
    upstream.on("error", () => {}); // always followed by "close"
    // Also covers a handshake that ws rejects (no callback): the upstream never outlives the client.
    socket.once("close", () => upstream.terminate());
    upstream.once("close", () => {
      if (!this.#connecting.delete(entry)) return;
      this.#count(socket.destroyed ? "client_aborted" : "upstream_error");
      refuse(socket, 502);
    });
    upstream.once("open", () => {
      this.#connecting.delete(entry);
      if (socket.destroyed) {
        upstream.terminate();
        return;
      }
      // The fault may have changed while the upstream connected.
      if (this.#refusedByFault(socket, this.#ctx.clock.current()?.fault)) {
        upstream.terminate();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (client) => {
        this.#count("forwarded");
        this.#sessions.add(new WsSession(this.#ctx, client, upstream, socket, (s) => this.#sessions.delete(s)));
      });
    });
  };

  /** Faults that act on open connections the moment they start. */
  onFaultStart(fault: Fault): void {
    if (fault.kind === "ws_drop") for (const s of [...this.#sessions]) s.drop("fault:ws_drop");
    if (fault.kind === "reset") for (const s of [...this.#sessions]) s.reset();
  }

  onFaultEnd(): void {
    for (const s of this.#sessions) s.flushHeads();
  }

  close(): void {
    for (const s of [...this.#sessions]) s.drop("client_aborted");
    for (const { socket, upstream } of this.#connecting) {
      socket.destroy();
      upstream.terminate();
    }
    this.#connecting.clear();
    this.#wss.close();
  }

  #refusedByFault(socket: Duplex, fault: Fault | undefined): boolean {
    switch (fault?.kind) {
      case "ws_drop":
        refuse(socket, 503);
        break;
      case "reset":
        resetSocket(socket);
        break;
      case "http_5xx":
        refuse(socket, fault.status);
        break;
      case "http_429":
        refuse(socket, 429, { "Retry-After": String(fault.retryAfterSec) });
        break;
      default:
        return false;
    }
    this.#count(`fault:${fault.kind}`);
    return true;
  }

  #count(outcome: Outcome): void {
    this.#ctx.counts.add(WS_CONNECT, outcomeName("ws", outcome));
  }
}

/** Answers a WS handshake with an HTTP error status and closes the socket. */
function refuse(socket: Duplex, status: number, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`, "Connection: close", "Content-Length: 0"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.once("finish", () => socket.destroy());
  socket.end(`${lines.join("\r\n")}\r\n\r\n`);
}
