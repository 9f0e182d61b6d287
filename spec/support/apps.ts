import type { Server } from "node:http";
import path from "node:path";
import {
  createExpressServer,
  createKoaServer,
  Interceptor,
  useContainer,
  useExpressServer,
  type Action,
  type InterceptorInterface,
  type RoutingControllersOptions,
} from "routing-controllers";
import request from "supertest";
import { Container, Service } from "typedi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express5 = require("express5") as () => unknown;

const VIEWS = path.join(__dirname, "views");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ejs = require("ejs") as { renderFile(file: string, locals: object): Promise<string> };

useContainer(Container);

/** Returns what it gets; see startApp. */
@Interceptor()
@Service()
export class PassThroughInterceptor implements InterceptorInterface {
  intercept(_action: Action, content: unknown): unknown {
    return content;
  }
}

/** "express" is Express 4 (routing-controllers' own), "express5" an Express 5 app given to useExpressServer. */
export type Driver = "express" | "express5" | "koa";
/** The core drivers. */
export const DRIVERS: Driver[] = ["express", "koa"];
/** Every driver the HTTP rules are tested on. */
export const ALL_DRIVERS: Driver[] = ["express", "express5", "koa"];

export interface TestApp {
  server: Server;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

/** A routing-controllers app on the given driver, listening on a loopback port, with EJS views from spec/support/views. */
export async function startApp(driver: Driver, controllers: Function[], options: Partial<RoutingControllersOptions> = {}): Promise<TestApp> {
  // routing-controllers applies every @Interceptor class of the process to an app given none: a
  // pass-through one keeps the global interceptors some specs declare out of the other apps.
  const settings: RoutingControllersOptions = {
    controllers,
    defaultErrorHandler: true,
    development: false,
    interceptors: [PassThroughInterceptor],
    ...options,
  };
  const app = driver === "express" ? createExpressServer(settings) : driver === "express5" ? useExpressServer(express5(), settings) : createKoaServer(settings);
  if (driver === "koa") {
    // routing-controllers' @Render calls ctx.render (koa-views' contract): a tiny EJS one, first in the chain.
    (app as { middleware: unknown[] }).middleware.unshift(async (ctx: any, next: () => Promise<unknown>) => {
      ctx.render = async (view: string, locals: object) => {
        ctx.type = "html";
        ctx.body = await ejs.renderFile(path.join(VIEWS, `${view}.ejs`), locals);
      };
      await next();
    });
  } else {
    (app as { set(k: string, v: string): void }).set("views", VIEWS);
    (app as { set(k: string, v: string): void }).set("view engine", "ejs");
  }
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
