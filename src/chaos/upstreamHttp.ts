import { Agent, request, type Dispatcher } from "undici";
import { parseJson, isObject } from "./jsonrpc.js";
import { parseQuantity } from "./staleHead.js";

const TIMEOUT_MS = 30_000;
/** Cap on an upstream body the proxy has to read whole (stale_head rewriting). */
export const MAX_BUFFERED_RESPONSE = 32 * 1024 * 1024;

export class UpstreamTooLarge extends Error {}

/** The upstream node over HTTP, through one keep-alive connection pool. */
export class UpstreamHttp {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

  /** `headers`: extra request headers (a provider's credentials); content-type is always JSON. */
  constructor(url: string, headers: Record<string, string> = {}) {
    this.#url = url;
    this.#headers = { ...headers, "content-type": "application/json" };
  }

  /** POSTs a JSON-RPC body to the upstream URL (whatever path the client used). */
  post(body: string, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    return request(this.#url, {
      dispatcher: this.#agent,
      method: "POST",
      headers: this.#headers,
      body,
      signal,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
  }

  /** Reads a response body whole, refusing more than MAX_BUFFERED_RESPONSE bytes. */
  static async readText(body: Dispatcher.ResponseData["body"]): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      size += buf.length;
      if (size > MAX_BUFFERED_RESPONSE) {
        body.destroy();
        throw new UpstreamTooLarge(`upstream response over ${MAX_BUFFERED_RESPONSE} bytes`);
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  /** The upstream's current head (eth_blockNumber). */
  async blockNumber(signal: AbortSignal): Promise<number> {
    const res = await this.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }), signal);
    const parsed = parseJson(await UpstreamHttp.readText(res.body));
    const head = isObject(parsed) ? parseQuantity(parsed.result) : null;
    if (res.statusCode !== 200 || head === null) throw new Error(`upstream eth_blockNumber failed with HTTP ${res.statusCode}`);
    return head;
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}
