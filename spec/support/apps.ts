import type { Server } from "node:http";
import { createExpressServer, createKoaServer, useContainer, type Action, type RoutingControllersOptions } from "routing-controllers";
import request from "supertest";
import { Container } from "typedi";

useContainer(Container);

export type Driver = "express" | "koa";
export const DRIVERS: Driver[] = ["express", "koa"];

export interface TestApp {
  server: Server;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

/** A routing-controllers app on the given driver, listening on a loopback port. */
export async function startApp(driver: Driver, controllers: Function[], options: Partial<RoutingControllersOptions> = {}): Promise<TestApp> {
  const settings: RoutingControllersOptions = { controllers, defaultErrorHandler: true, development: false, ...options };
  const app = driver === "express" ? createExpressServer(settings) : createKoaServer(settings);
  const server: Server = await new Promise((resolve) => {
    const s = (app as { listen: (port: number, host: string, cb: () => void) => Server }).listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    server,
    http: request(server),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Token-based checks for the auth tests: "Bearer good" passes, anything else fails. */
export const tokenAuth = {
  authorizationChecker: (action: Action) => headerOf(action) === "Bearer good",
  currentUserChecker: (action: Action) => (headerOf(action) === "Bearer good" ? { id: 7, name: "ann" } : undefined),
};

function headerOf(action: Action): string | undefined {
  const req = (action.context ? action.context.request : action.request) as { headers: Record<string, string | undefined> };
  return req.headers.authorization;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
