/**
 * URL redaction. Lasso and provider URLs may carry API keys in userinfo, in a path segment
 * (`/v2/<key>`, `/v3/<key>`, `/<token>/`) or in the query (`?apikey=`). Everything that
 * could be a credential is masked; scheme, host and port are kept so the URL still says
 * where it points.
 */

const MASK = "***";

/** A path segment that looks like a key: long, token-like, not a word. */
function looksLikeKey(segment: string): boolean {
  if (!/^[A-Za-z0-9_~.%-]+$/.test(segment)) return false;
  if (segment.length >= 32) return true;
  return segment.length >= 16 && /\d/.test(segment) && /[A-Za-z0-9]{8,}/.test(segment);
}

function redactQuery(search: string): string {
  if (search === "" || search === "?") return "";
  const parts = search
    .slice(1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      return eq < 0 ? MASK : `${pair.slice(0, eq)}=${MASK}`;
    });
  return `?${parts.join("&")}`;
}

/** Best effort for strings that do not parse as URLs: still never echo a credential. */
function redactUnparseable(text: string): string {
  return text
    .replace(/\/\/[^/@\s]*@/g, `//${MASK}@`)
    .replace(/([?&][^=&#\s]*=)[^&#\s]*/g, `$1${MASK}`)
    .replace(/#.*$/, `#${MASK}`)
    .replace(/[A-Za-z0-9_-]{16,}/g, (tok) => (looksLikeKey(tok) ? MASK : tok));
}

/**
 * `https://user:pw@eth.example.com:8443/v2/AbCd1234...?key=s3cret` ->
 * `https://***@eth.example.com:8443/v2/***?key=***`.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactUnparseable(url);
  }
  if (u.host === "") return redactUnparseable(url);
  const userinfo = u.username !== "" || u.password !== "" ? `${MASK}@` : "";
  const pathname = u.pathname
    .split("/")
    .map((seg) => (looksLikeKey(seg) ? MASK : seg))
    .join("/");
  const hash = u.hash === "" ? "" : `#${MASK}`;
  return `${u.protocol}//${userinfo}${u.host}${pathname === "/" ? "" : pathname}${redactQuery(u.search)}${hash}`;
}
