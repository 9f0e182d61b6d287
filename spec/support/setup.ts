import "reflect-metadata";
import { silentLogger, setCacheLogger } from "../../src/logger";

// Express's final handler prints every error a test provokes on purpose (401s...) unless env is "test".
process.env.NODE_ENV ??= "test";

// The cache reports recovered errors to its logger; tests that care install a recording one.
setCacheLogger(silentLogger);
