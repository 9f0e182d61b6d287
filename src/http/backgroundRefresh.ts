import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { BaseCacheBackend } from "../backends/base";
import { reportProblem } from "../logger";
import type { CacheRequest } from "./CacheRequest";
import { HOP_BY_HOP } from "./responseRules";

/** Header of the internal request that refreshes a stale entry; its value is a per-process secret. */
export const REFRESH_HEADER = "x-custom-cache-page-refresh";
const secret = randomBytes(16).toString("hex");
const DROPPED = new Set([...HOP_BY_HOP, "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "content-length", REFRESH_HEADER]);

const refreshing = new WeakMap<BaseCacheBackend, Set<string>>();

/** True for the internal refresh request this process sent (an outsider cannot guess the secret). */
export function isRefreshRequest(request: CacheRequest): boolean {
  return request.headers[REFRESH_HEADER] === secret;
}

/**
 * Refreshes a stale entry in the background (stale-while-revalidate): sends the same GET, with the
 * same headers, to this very server over loopback, marked so that it skips the lookup and stores
 * what the action answers. It runs through every middleware and check the original did. At most
 * one refresh per key runs at a time in a process. Returns true when a refresh runs (started now or
 * before), false when none can be sent (no local socket to reach the server through).
 */
export function refreshInBackground(backend: BaseCacheBackend, key: string, request: CacheRequest, socket: Socket | undefined): boolean {
  let keys = refreshing.get(backend);
  if (!keys) refreshing.set(backend, (keys = new Set()));
  if (keys.has(key)) return true;
  if (!socket?.localPort) return false;
  keys.add(key);
  const done = () => keys!.delete(key);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && !DROPPED.has(name)) headers[name] = value;
  headers[REFRESH_HEADER] = secret;
  const encrypted = (socket as Socket & { encrypted?: boolean }).encrypted === true;
  const address = socket.localAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1";
  const outgoing = (encrypted ? https : http).request(
    {
      host: address,
      family: address.includes(":") ? 6 : 4,
      port: socket.localPort,
      method: "GET",
      path: request.url,
      headers,
      timeout: 60_000,
      // It talks to itself: the certificate is the server's own, whatever name it carries.
      ...(encrypted ? { rejectUnauthorized: false } : {}),
    },
    (response) => {
      response.resume();
      response.on("end", done);
      response.on("error", done);
    },
  );
  outgoing.on("timeout", () => outgoing.destroy(new Error("the background refresh took longer than 60 s")));
  outgoing.on("error", (error) => {
    done();
    reportProblem(`refresh:${key}`, `background refresh of a stale entry failed; it stays stale until the next request refreshes it`, error);
  });
  outgoing.end();
  return true;
}
