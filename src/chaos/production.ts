/**
 * The FaultControl and verdict the daemon uses in production. The proxies run in their own
 * process (`lasso-canary proxy`); the daemon speaks to their loopback control API.
 */
import type { Plan } from "../plan/types.js";
import type { FaultControl } from "./control.js";
import { ProxyControlClient } from "./controlClient.js";
import type { Judge } from "./runner.js";
import { judgeWindow } from "./verdict.js";

export type ChaosWiring = { control: FaultControl; judge: Judge } | { reason: string };

export function productionChaos(plan: Plan): ChaosWiring {
  if (plan.chaosControl === null) return { reason: "the daemon config has no chaos: { proxyControl, proxyToken } section" };
  const control = new ProxyControlClient({ url: plan.chaosControl.proxyControl, token: plan.chaosControl.proxyToken });
  return { control, judge: (spec, obs) => judgeWindow(spec, obs) };
}
