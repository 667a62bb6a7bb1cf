/**
 * The FaultControl and verdict the daemon uses in production. The proxies run in their own
 * process (`lasso-canary proxy`); the daemon speaks to their loopback control API.
 */
import type { Plan } from "../plan/types.js";
import type { FaultControl } from "./control.js";
import type { Judge } from "./runner.js";

export type ChaosWiring = { control: FaultControl; judge: Judge } | { reason: string };

export function productionChaos(plan: Plan): ChaosWiring {
  if (plan.chaosControl === null) return { reason: "the daemon config has no chaos: { proxyControl, proxyToken } section" };
  // TODO(lead): once the proxy and verdict branches are merged, wire them here:
  //   import { ProxyControlClient } from "./controlClient.js";
  //   import { judgeWindow } from "./verdict.js";
  //   return { control: new ProxyControlClient({ url: plan.chaosControl.proxyControl, token: plan.chaosControl.proxyToken }), judge: judgeWindow };
  return { reason: "this build has no fault proxy client (ProxyControlClient) or verdict (judgeWindow) yet" };
}
