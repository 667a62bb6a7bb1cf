/**
 * One JSON-RPC WebSocket connection as a Lasso client holds it: requests correlated by id with
 * a deadline, notifications handed on, every frame parsed (a bad one is reported, never
 * thrown), our own pings so a half-open socket is noticed, and one close report saying who
 * ended it.
 */
import type WebSocket from "ws";
import { parseFrame } from "./frames.js";

/** `closed`: the socket ended (or was not open) before an answer came. */
export type RpcReply = { ok: true; result: unknown } | { ok: false; code: number | null; message: string; closed?: true };

/**
 * How the socket ended:
 * - server_close: the server sent a close frame
 * - connection_lost: closed without a close frame (reset, proxy cut, server gone; code 1006)
 * - ping_timeout: our ping got no pong in time; we terminated it
 * - local: we closed it (stop, or after a failed subscribe)
 */
export interface CloseInfo {
  cause: "server_close" | "connection_lost" | "ping_timeout" | "local";
  code: number;
  detail: string;
}

/** ws's messages for a 101 answer that is not a valid upgrade (the server answered, wrongly). */
const INVALID_UPGRADE = /^(Invalid Sec-WebSocket-Accept|Server sent (an invalid|a subprotocol|no subprotocol)|Invalid Upgrade header|Server sent a Sec-WebSocket-Extensions)/;

export interface WsHandlers {
  notification(subscription: string, result: unknown): void;
  malformed(reason: string): void;
  close(info: CloseInfo): void;
}

export interface WsConnectOptions {
  handshakeTimeoutMs: number;
  /** Aborting gives up the handshake at once. */
  signal?: AbortSignal;
  /** 0 disables our pings. A pong must come back before the next ping is due. */
  pingIntervalMs: number;
  maxPayloadBytes?: number;
  /** Sent with the upgrade request (a target's configured headers). Secrets. */
  headers?: Record<string, string>;
}

/**
 * Why a handshake did not give us a socket:
 * - refused: the server answered, but not with an upgrade (an HTTP status, `status` set, or an
 *   invalid 101): Lasso (or what fronts it) said no
 * - unreachable: no answer (TCP refused, DNS, reset, timeout, aborted): our side, the network or
 *   a target that is down; nothing says Lasso refused
 */
export class WsConnectError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "unreachable",
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** How much of a refused handshake's body goes into the detail, and how long we wait for it. */
const REFUSAL_BODY_CHARS = 200;
const REFUSAL_BODY_WAIT_MS = 1000;

export class WsRpcConnection {
  private readonly pending = new Map<number, { resolve: (r: RpcReply) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private pingTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private closing: CloseInfo | null = null;
  private lastError = "";
  private closed = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly handlers: WsHandlers,
    pingIntervalMs: number,
  ) {
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on("pong", () => {
      this.awaitingPong = false;
    });
    ws.on("error", (err: Error) => {
      this.lastError = err.message;
    });
    ws.on("close", (code: number, reason: Buffer) => this.onClose(code, reason.toString("utf8")));
    if (pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.heartbeat(pingIntervalMs), pingIntervalMs);
    }
  }

  /** Opens the socket; rejects with WsConnectError (refused: an HTTP status or a bad upgrade; unreachable: no answer). */
  static async connect(url: string, opts: WsConnectOptions, handlers: WsHandlers): Promise<WsRpcConnection> {
    // Imported by the first watcher that connects: a plan without watchers never loads ws.
    const { default: WebSocket } = await import("ws");
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        handshakeTimeout: opts.handshakeTimeoutMs,
        maxPayload: opts.maxPayloadBytes ?? 16 * 1024 * 1024,
        perMessageDeflate: false,
        ...(opts.headers !== undefined ? { headers: opts.headers } : {}),
      });
      let failure = "";
      let refusal: { status: number | null; detail: string } | null = null;
      ws.once("unexpected-response", (_req, res) => {
        const status = res.statusCode ?? null;
        // Read a little of the body for the detail (Lasso's 403 has none), then give up the socket.
        let body = "";
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const text = body.replace(/\s+/g, " ").trim().slice(0, REFUSAL_BODY_CHARS);
          refusal = { status, detail: `handshake answered HTTP ${status ?? "?"}${text === "" ? " (empty body)" : `: ${text}`}` };
          ws.terminate();
        };
        const timer = setTimeout(finish, REFUSAL_BODY_WAIT_MS);
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
          if (body.length >= REFUSAL_BODY_CHARS) finish();
        });
        res.once("end", finish);
        res.once("error", finish);
        res.once("close", finish);
      });
      ws.on("error", (err: Error) => {
        failure ||= err.message;
      });
      const onAbort = (): void => {
        failure ||= "aborted";
        ws.terminate();
      };
      if (opts.signal?.aborted === true) onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const onClose = (): void => {
        opts.signal?.removeEventListener("abort", onAbort);
        const r = refusal;
        if (r !== null) reject(new WsConnectError(r.detail, "refused", r.status));
        else if (INVALID_UPGRADE.test(failure)) reject(new WsConnectError(`invalid upgrade answer: ${failure}`, "refused"));
        else reject(new WsConnectError(failure || "closed during the handshake", "unreachable"));
      };
      ws.once("close", onClose);
      ws.once("open", () => {
        opts.signal?.removeEventListener("abort", onAbort);
        ws.off("close", onClose);
        ws.removeAllListeners("error");
        resolve(new WsRpcConnection(ws, handlers, opts.pingIntervalMs));
      });
    });
  }

  request(method: string, params: unknown[], timeoutMs: number): Promise<RpcReply> {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return Promise.resolve({ ok: false, code: null, message: "socket not open", closed: true });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, code: null, message: `no answer to ${method} within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  /** Closes from our side; the close handler still runs, with cause "local". */
  close(detail: string): void {
    if (this.closed) return;
    this.closing ??= { cause: "local", code: 1000, detail };
    this.ws.close(1000);
    // A peer that never answers the close frame must not keep the socket.
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  private heartbeat(intervalMs: number): void {
    if (this.awaitingPong) {
      this.closing ??= { cause: "ping_timeout", code: 1006, detail: `no pong within ${intervalMs} ms` };
      this.ws.terminate();
      return;
    }
    this.awaitingPong = true;
    try {
      this.ws.ping();
    } catch {
      // closing already; the close event follows
    }
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.handlers.malformed("binary frame");
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString("utf8") : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data).toString("utf8");
    const frame = parseFrame(text);
    switch (frame.kind) {
      case "notification":
        this.handlers.notification(frame.subscription, frame.result);
        return;
      case "response":
      case "error": {
        const p = typeof frame.id === "number" ? this.pending.get(frame.id) : undefined;
        if (p === undefined) {
          this.handlers.malformed(`answer to no pending request (id ${JSON.stringify(frame.id)})`);
          return;
        }
        this.pending.delete(frame.id as number);
        clearTimeout(p.timer);
        p.resolve(frame.kind === "response" ? { ok: true, result: frame.result } : { ok: false, code: frame.code, message: frame.message });
        return;
      }
      case "meta":
        return;
      case "malformed":
        this.handlers.malformed(frame.reason);
        return;
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, code: null, message: "socket closed", closed: true });
    }
    this.pending.clear();
    const info: CloseInfo =
      this.closing ??
      (code === 1006
        ? { cause: "connection_lost", code, detail: `connection lost without a close frame${this.lastError ? ` (${this.lastError})` : ""}` }
        : { cause: "server_close", code, detail: `server closed with code ${code}${reason ? ` "${reason.slice(0, 80)}"` : ""}` });
    this.handlers.close(info);
  }
}
