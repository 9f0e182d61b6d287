import "reflect-metadata";
import { silentLogger, setCacheLogger } from "../../src/logger";

// The cache reports recovered errors to its logger; tests that care install a recording one.
setCacheLogger(silentLogger);
