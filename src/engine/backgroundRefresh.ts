import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { BaseCacheBackend } from "../backends/base";
import { reportProblem } from "../logger";
import type { CacheRequest } from "../model";
import { HOP_BY_HOP } from "../http/headers";

/** Header of the internal request that refreshes a stale entry; its value is a one-time token. */
export const REFRESH_HEADER = "x-custom-cache-page-refresh";
const DROPPED = new Set([...HOP_BY_HOP, "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "content-length", REFRESH_HEADER]);
const REFRESH_TIMEOUT_MS = 60_000;

const refreshing = new WeakMap<BaseCacheBackend, Set<string>>();
/** Tokens of the refreshes this process sent and that have not arrived yet: each is good once. */
const pendingTokens = new Set<string>();

/**
 * Takes the refresh marker off a request: true when it carries a token this process issued and
 * that was not used yet (then it is used up). Whatever the header held, it is removed from the
 * native request's headers, so no action, middleware or stored page ever sees it, and a client
 * that copies a token can neither replay it nor learn anything from a page.
 */
export function takeRefreshMarker(headers: Record<string, string | string[] | undefined>, rawHeaders?: string[]): boolean {
  const value = headers[REFRESH_HEADER];
  if (value === undefined) return false;
  delete headers[REFRESH_HEADER];
  if (rawHeaders) {
    for (let i = rawHeaders.length - 2; i >= 0; i -= 2) if (rawHeaders[i]!.toLowerCase() === REFRESH_HEADER) rawHeaders.splice(i, 2);
  }
  return typeof value === "string" && pendingTokens.delete(value);
}

/**
 * Refreshes a stale entry in the background (stale-while-revalidate): sends the same GET, with the
 * same headers, to this very server over loopback, marked with a one-time token so that it skips
 * the lookup and stores what the action answers. It runs through every middleware and check the
 * original did. At most one refresh per key runs at a time in a process. Returns true when a
 * refresh runs (started now or before), false when none can be sent (no local socket to reach the
 * server through).
 */
export function refreshInBackground(backend: BaseCacheBackend, key: string, request: CacheRequest, socket: Socket | undefined): boolean {
  let keys = refreshing.get(backend);
  if (!keys) refreshing.set(backend, (keys = new Set()));
  if (keys.has(key)) return true;
  if (!socket?.localPort) return false;
  keys.add(key);
  const token = randomBytes(16).toString("hex");
  pendingTokens.add(token);
  const done = () => {
    keys!.delete(key);
    pendingTokens.delete(token);
  };
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && !DROPPED.has(name)) headers[name] = value;
  headers[REFRESH_HEADER] = token;
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
      timeout: REFRESH_TIMEOUT_MS,
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
