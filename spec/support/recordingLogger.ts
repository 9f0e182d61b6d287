import { resetProblemReports, setCacheLogger, silentLogger, type CacheLogger } from "../../src/logger";

/** Installs a logger that records what the cache reports; `restore()` puts the silent one back. */
export function recordLogs(): { messages: string[]; restore(): void } {
  const messages: string[] = [];
  resetProblemReports();
  const logger: CacheLogger = {
    warn: (m) => void messages.push(m),
    error: (m) => void messages.push(m),
  };
  setCacheLogger(logger);
  return { messages, restore: () => void setCacheLogger(silentLogger) };
}
