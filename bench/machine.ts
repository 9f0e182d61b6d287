import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/** Packages whose versions the report lists (read from node_modules/<name>/package.json). */
const PACKAGES = [
  "routing-controllers",
  "express",
  "koa",
  "@koa/router",
  "typedi",
  "class-transformer",
  "keyv",
  "@keyv/redis",
  "@redis/client",
  "apicache",
  "autocannon",
  "typescript",
  "ts-node",
];

function versionOf(dir: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

function run(command: string): string {
  try {
    return execSync(command, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** Where and with what the bench ran. */
export interface MachineInfo {
  nproc: string;
  cpuModel: string;
  memory: string;
  kernel: string;
  node: string;
  packages: Array<{ name: string; version: string }>;
  git: string;
  loadAverage: string;
}

export function describeMachine(): MachineInfo {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  const commit = run("git rev-parse --short HEAD");
  const dirty = run("git status --porcelain -- src") !== "";
  return {
    nproc: run("nproc") || String(os.availableParallelism()),
    cpuModel: model,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    packages: [
      { name: "custom-cache-page", version: `${versionOf(ROOT)} (src/ imported directly)` },
      ...PACKAGES.map((name) => ({ name, version: versionOf(path.join(ROOT, "node_modules", name)) })),
    ],
    git: commit ? `${commit}${dirty ? " + uncommitted changes in src/" : ""}` : "unknown",
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / "),
  };
}
