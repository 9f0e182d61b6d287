/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms) as
 * milliseconds since the epoch, or undefined when it is not a date.
 */
export function parseHttpDate(value: string | string[] | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value[0] : String(value))?.trim();
  if (!text || !/^[A-Za-z]{3,9},? [0-9A-Za-z :-]+$/.test(text)) return undefined;
  // Every HTTP-date is in GMT; the asctime form does not say so, and Date.parse would read local time.
  const ms = Date.parse(text.endsWith("GMT") ? text : `${text} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Milliseconds since the epoch as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export function formatHttpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}
