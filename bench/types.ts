/** One line of the results table. */
export interface ResultRow {
  scenario: string;
  measured: string;
  baseline: string;
  ratio: string;
  target: string;
  /** "yes" / "no" for rows with a target, "—" for context rows. */
  met: "yes" | "no" | "—";
}

/** What a scenario hands to the report. */
export interface ScenarioReport {
  id: string;
  title: string;
  rows: ResultRow[];
  /** Short notes (markdown), one bullet each. */
  notes: string[];
  /** Extra markdown (tables) shown under the scenario's notes. */
  details?: string[];
  /** Set when the scenario could not be measured: what failed, precisely. */
  error?: string;
  seconds?: number;
}

/** Whether a target is met, as the table shows it. */
export function met(ok: boolean): "yes" | "no" {
  return ok ? "yes" : "no";
}
