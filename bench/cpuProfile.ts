import { readFileSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The self time of one function. */
export interface ProfileLine {
  functionName: string;
  /** `src/http/pageCache.ts:120`, `express/lib/router/index.js:45`, `node:_http_outgoing:...`. */
  location: string;
  area: string;
  selfMs: number;
  selfPercent: number;
}

/** What a `.cpuprofile` says about where the time went. */
export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: ProfileLine[];
  /** Self time by area (package / Node internals / our src / GC). */
  areas: Array<{ area: string; selfPercent: number }>;
  /** Share of all samples with a custom-cache-page (src/) frame on the stack. */
  underCachePercent: number;
  /** Self time of each of our src files. */
  srcFiles: Array<{ file: string; selfPercent: number }>;
  /** Non-idle time, ms. */
  busyMs: number;
  /** Requests served while sampling (when given). */
  requests?: number;
  /**
   * Server CPU time per request from /proc during the same window (set by the caller). The
   * sampler's own clock is wall time, which counts moments the process was descheduled too.
   */
  cpuMicrosPerRequest?: number;
  /** Our functions by inclusive time (self + callees), as a share of the busy (non-idle) samples. */
  inclusive: Array<{ functionName: string; location: string; share: number }>;
}

const ROOT = path.resolve(__dirname, "..");

function locate(url: string): { location: string; area: string } {
  if (!url) return { location: "", area: "(native / runtime)" };
  let p = url.startsWith("file://") ? decodeURIComponent(url.slice(7)) : url;
  if (p.startsWith("node:")) return { location: p, area: "Node internals" };
  if (p.startsWith(ROOT)) p = path.relative(ROOT, p);
  const nm = p.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = p.slice(nm + "node_modules/".length);
    const parts = rest.split("/");
    const pkg = rest.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
    return { location: rest, area: pkg };
  }
  if (p.startsWith("src/")) return { location: p, area: "custom-cache-page (src/)" };
  if (p.startsWith("bench/")) return { location: p, area: "bench server" };
  return { location: p, area: "other" };
}

/** Reads a `.cpuprofile` (Chrome DevTools format) and sums self time per function and per area. */
export function summarizeProfile(file: string, topN = 15, requests?: number, cpuMicrosPerRequest?: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const underCache = new Map<number, boolean>();
  const isUnderCache = (id: number): boolean => {
    const known = underCache.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const mine = locate(node.callFrame.url).area === "custom-cache-page (src/)";
    const p = parent.get(id);
    const result = mine || (p !== undefined && isUnderCache(p));
    underCache.set(id, result);
    return result;
  };

  const functions = new Map<string, ProfileLine>();
  const areas = new Map<string, number>();
  const srcFiles = new Map<string, number>();
  let cacheUs = 0;
  let busyUs = 0;
  const inclusive = new Map<string, { functionName: string; location: string; us: number }>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName !== "(idle)") busyUs += us;
    // Inclusive time of our functions: each function on the sample's stack, once.
    const seen = new Set<string>();
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) {
      const f = byId.get(c)!.callFrame;
      const where = locate(f.url);
      if (where.area !== "custom-cache-page (src/)") continue;
      const key = `${f.functionName}@${where.location}:${f.lineNumber}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = inclusive.get(key) ?? { functionName: f.functionName || "(anonymous)", location: `${where.location}:${f.lineNumber + 1}`, us: 0 };
      entry.us += us;
      inclusive.set(key, entry);
    }
  }
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const { location, area } = locate(url);
    const name = functionName || "(anonymous)";
    const special = ["(garbage collector)", "(program)", "(idle)", "(root)"].includes(name);
    const areaName = special ? name : area;
    const key = `${name}@${location}:${lineNumber}`;
    const line = functions.get(key) ?? {
      functionName: name,
      location: location ? `${location}:${lineNumber + 1}` : "",
      area: areaName,
      selfMs: 0,
      selfPercent: 0,
    };
    line.selfMs += us / 1000;
    functions.set(key, line);
    areas.set(areaName, (areas.get(areaName) ?? 0) + us);
    if (area === "custom-cache-page (src/)") srcFiles.set(location, (srcFiles.get(location) ?? 0) + us);
    if (isUnderCache(id)) cacheUs += us;
  }
  const pct = (us: number) => (total > 0 ? (100 * us) / total : 0);
  const top = [...functions.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN);
  for (const t of top) t.selfPercent = pct(t.selfMs * 1000);
  return {
    file,
    totalMs: total / 1000,
    top,
    areas: [...areas].map(([area, us]) => ({ area, selfPercent: pct(us) })).sort((a, b) => b.selfPercent - a.selfPercent),
    underCachePercent: pct(cacheUs),
    srcFiles: [...srcFiles].map(([file, us]) => ({ file, selfPercent: pct(us) })).sort((a, b) => b.selfPercent - a.selfPercent),
    busyMs: busyUs / 1000,
    requests,
    cpuMicrosPerRequest,
    inclusive: [...inclusive.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 12)
      .map((e) => ({ functionName: e.functionName, location: e.location, share: busyUs > 0 ? e.us / busyUs : 0 })),
  };
}

/** The summary as markdown lines. */
export function profileMarkdown(title: string, s: ProfileSummary): string[] {
  const perRequest =
    s.requests && s.cpuMicrosPerRequest
      ? ` Server CPU ${s.cpuMicrosPerRequest.toFixed(0)} µs per request (/proc, ${s.requests.toLocaleString("en-US")} requests).`
      : "";
  const lines = [
    `**${title}** — ${(s.totalMs / 1000).toFixed(1)} s sampled (100 µs interval), file \`${path.relative(ROOT, s.file)}\`.${perRequest} ` +
      `${s.underCachePercent.toFixed(1)}% of the server's samples have a custom-cache-page frame on the stack.`,
    "",
    "| self % | function | where | area |",
    "|---:|---|---|---|",
    ...s.top.map((t) => `| ${t.selfPercent.toFixed(1)} | \`${t.functionName}\` | ${t.location ? `\`${t.location}\`` : ""} | ${t.area} |`),
    "",
    `Self time by area: ${s.areas
      .slice(0, 10)
      .map((a) => `${a.area} ${a.selfPercent.toFixed(1)}%`)
      .join(", ")}.`,
  ];
  if (s.inclusive.length > 0) {
    const cpu = s.cpuMicrosPerRequest;
    lines.push(
      "",
      `Our functions by inclusive time (share of the busy samples${cpu ? "; ≈ µs of CPU per request" : ""}): ` +
        s.inclusive
          .map((e) => `\`${e.functionName}\` (${e.location}) ${(100 * e.share).toFixed(1)}%${cpu ? ` ≈ ${(e.share * cpu).toFixed(1)} µs` : ""}`)
          .join(", ") +
        ".",
    );
  }
  if (s.srcFiles.length > 0) {
    lines.push(
      "",
      `Self time in our files: ${s.srcFiles
        .slice(0, 10)
        .map((f) => `\`${f.file}\` ${f.selfPercent.toFixed(1)}%`)
        .join(", ")}.`,
    );
  }
  return lines;
}
