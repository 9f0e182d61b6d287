import { timingSafeEqual } from "node:crypto";
import { getHttpSettings } from "../config/configure";
import { hashKey } from "../keys/hashKey";
import { backendLabel } from "../telemetry/backendNames";
import type { CachePlan } from "./cachePlan";

/**
 * The debug header's name when this request carries it with the configured token (compared in
 * constant time), else undefined. Off unless `configureCachePage({ debugHeader: { token } })`.
 */
export function debugHeaderFor(headers: Record<string, string | string[] | undefined>): string | undefined {
  const settings = getHttpSettings().debugHeader;
  if (!settings) return undefined;
  const given = headers[settings.header];
  if (typeof given !== "string") return undefined;
  const a = Buffer.from(given);
  const b = Buffer.from(settings.token);
  return a.length === b.length && timingSafeEqual(a, b) ? settings.header : undefined;
}

/** What the debug header says about one response: `key` hash, `tags`, `versions`, `result`, `store`, `reason`. */
export function explainDecision(plan: CachePlan | undefined, result: string, details: { reason?: string; store?: string } = {}): string {
  const parts: string[] = [`result=${result}`];
  if (plan) {
    parts.push(`key=${hashKey(plan.storageKey)}`);
    parts.push(`tags=${plan.surrogateKeys.join(",") || "-"}`);
    const versions = plan.tagVersions();
    if (versions) parts.push(`versions=${versions}`);
    parts.push(`backend=${backendLabel(plan.backend)}`);
  }
  if (details.store) parts.push(`store=${details.store}`);
  if (details.reason) parts.push(`reason="${details.reason.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, "\\$&")}"`);
  return parts.join("; ");
}
