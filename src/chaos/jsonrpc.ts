import { INVALID } from "./counts.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
export type RpcId = string | number | null;

/** One request (or batch item) as the proxy sees it. */
export interface RpcCall {
  /** The request id; null when absent or not a valid id. */
  id: RpcId;
  /** The method name, or "(invalid)" when the item is not a request object with a string method. */
  method: string;
  params: JsonValue[];
  /** The item as sent, forwarded unchanged unless a fault rewrites it. */
  raw: JsonValue;
}

export interface RpcBody {
  batch: boolean;
  calls: RpcCall[];
}

export function parseJson(text: string): JsonValue | undefined {
  try {
    const value: JsonValue = JSON.parse(text);
    return value;
  } catch {
    return undefined;
  }
}

export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function toId(value: JsonValue | undefined): RpcId {
  return typeof value === "string" || typeof value === "number" ? value : null;
}

function toCall(raw: JsonValue): RpcCall {
  if (!isObject(raw)) return { id: null, method: INVALID, params: [], raw };
  const params = raw.params;
  return {
    id: toId(raw.id),
    method: typeof raw.method === "string" ? raw.method : INVALID,
    params: Array.isArray(params) ? params : [],
    raw,
  };
}

/** Parses an HTTP body or WS text frame; null when it is not JSON at all. */
export function parseRpcBody(text: string): RpcBody | null {
  const value = parseJson(text);
  if (value === undefined) return null;
  if (Array.isArray(value)) {
    // An empty batch is an invalid request; give it one item so it is still counted and answered.
    const items = value.length > 0 ? value : [null];
    return { batch: true, calls: items.map(toCall) };
  }
  return { batch: false, calls: [toCall(value)] };
}

/** Map key for matching a response to its request by id. */
export function idKey(id: RpcId): string {
  return JSON.stringify(id);
}

export function errorResponse(id: RpcId, code: number, message: string): JsonObject {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/** Serialises answers in the request's shape: an array for a batch, one object otherwise. */
export function serialiseAnswers(body: RpcBody | null, answers: JsonObject[]): string {
  return JSON.stringify(body?.batch ? answers : (answers[0] ?? null));
}
