/** JSON and JSON-RPC 2.0 value types, guards and error constructors. */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
export type RpcId = string | number | null;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: JsonValue;
}

export interface RpcRequest {
  method: string;
  params: JsonValue[];
  /** Absent for notifications. */
  id?: RpcId;
  hasId: boolean;
  /** The raw request object (extra members such as `lasso_meta`). */
  raw: JsonObject;
}

export interface RpcSuccess {
  jsonrpc: "2.0";
  id: RpcId;
  result: JsonValue;
}

export interface RpcFailure {
  jsonrpc: "2.0";
  id: RpcId;
  error: RpcErrorObject;
}

export type RpcResponse = RpcSuccess | RpcFailure;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isRpcId(v: unknown): v is RpcId {
  return v === null || typeof v === "string" || typeof v === "number";
}

export function parseJson(text: string): { ok: true; value: JsonValue } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch {
    return { ok: false };
  }
}

/**
 * Validates one JSON-RPC request object. Params are normalised the way Lasso does it:
 * missing/null -> [], object -> [object], scalar -> [scalar].
 */
export function toRpcRequest(v: JsonValue): { ok: true; req: RpcRequest } | { ok: false; error: RpcErrorObject; id: RpcId } {
  if (!isObject(v) || typeof v["method"] !== "string") {
    const id = isObject(v) && isRpcId(v["id"]) ? v["id"] : null;
    return { ok: false, error: { code: -32600, message: "Invalid Request" }, id };
  }
  const id = v["id"];
  const hasId = "id" in v;
  if (hasId && !isRpcId(id)) {
    return { ok: false, error: { code: -32600, message: "Invalid Request: bad id" }, id: null };
  }
  if ("jsonrpc" in v && v["jsonrpc"] !== "2.0") {
    return { ok: false, error: { code: -32600, message: 'Invalid Request: jsonrpc must be "2.0"' }, id: hasId ? (id as RpcId) : null };
  }
  const p = v["params"];
  const params: JsonValue[] = p === undefined || p === null ? [] : Array.isArray(p) ? p : [p];
  const req: RpcRequest = { method: v["method"], params, hasId, raw: v };
  if (hasId) req.id = id as RpcId;
  return { ok: true, req };
}

export function isRpcErrorObject(v: unknown): v is RpcErrorObject {
  return isObject(v) && typeof v["code"] === "number" && typeof v["message"] === "string";
}

/** Parses an upstream JSON-RPC response (single object). */
export function toRpcResponse(v: JsonValue): RpcResponse | null {
  if (!isObject(v)) return null;
  const id = isRpcId(v["id"]) ? v["id"] : null;
  if ("error" in v && isRpcErrorObject(v["error"])) {
    const e = v["error"];
    const error: RpcErrorObject = { code: e.code, message: e.message };
    if (e.data !== undefined) error.data = e.data;
    return { jsonrpc: "2.0", id, error };
  }
  if ("result" in v) {
    const result = v["result"];
    return { jsonrpc: "2.0", id, result: result === undefined ? null : result };
  }
  return null;
}

export function rpcError(id: RpcId, code: number, message: string, data?: JsonValue): RpcFailure {
  const error: RpcErrorObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", id, error };
}

export function rpcResult(id: RpcId, result: JsonValue): RpcSuccess {
  return { jsonrpc: "2.0", id, result };
}

export function hexToNumber(v: unknown): number | null {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]+$/.test(v)) return null;
  const n = Number.parseInt(v, 16);
  return Number.isSafeInteger(n) ? n : null;
}

export function toHex(n: number): string {
  return "0x" + n.toString(16);
}
