import assert from "node:assert/strict";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Asserts `v` is a JSON object and returns it typed. */
export function obj(v: unknown, what: string): Obj {
  assert.ok(isObj(v), `${what} is an object: ${JSON.stringify(v)}`);
  return v;
}
