import { isIP } from "node:net";

/**
 * A peer address (req.socket.remoteAddress) on this machine's loopback: 127.0.0.0/8, ::1,
 * or an IPv4 loopback mapped into IPv6 (::ffff:127.x.y.z). Anything else, or no address
 * (a closed socket), is not.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase();
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  if (isIP(v4) === 4) return v4.split(".")[0] === "127";
  return isIP(a) === 6 && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/.test(a);
}

/** A listen host that only loopback peers can reach: an IPv4/IPv6 loopback literal or "localhost". */
export function isLoopbackListenHost(host: string): boolean {
  return host === "localhost" || isLoopbackAddress(host);
}
