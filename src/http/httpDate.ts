const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
const IMF_FIXDATE = new RegExp(`^(${DAYS.join("|")}), (\\d{2}) (${MONTHS.join("|")}) (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(${LONG_DAYS.join("|")}), (\\d{2})-(${MONTHS.join("|")})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(${DAYS.join("|")}) (${MONTHS.join("|")}) ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms) as
 * milliseconds since the epoch, or undefined when it is not one. Anything else — another zone
 * than GMT, a missing comma, doubled spaces, a one-digit hour — is not a date: an `Expires` holding
 * it means "already expired" (RFC 9111 §5.3).
 */
export function parseHttpDate(value: string | string[] | number | undefined): number | undefined {
  if (value === undefined || (Array.isArray(value) && value.length !== 1)) return undefined;
  const text = Array.isArray(value) ? value[0]! : String(value);
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[4]), m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  m = RFC850_DATE.exec(text);
  if (m) {
    // Two-digit years: one more than 50 years in the future is in the past century (RFC 9110 §5.6.7).
    const yy = Number(m[4]);
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME_DATE.exec(text);
  if (m) return utc(Number(m[7]), m[2]!, Number(m[3]!.trim()), m[4]!, m[5]!, m[6]!);
  return undefined;
}

function utc(year: number, month: string, day: number, h: string, min: string, s: string): number | undefined {
  const hours = Number(h);
  const minutes = Number(min);
  const seconds = Number(s);
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const ms = Date.UTC(year, MONTHS.indexOf(month), day, hours, minutes, Math.min(seconds, 59));
  return Number.isFinite(ms) ? ms : undefined;
}

/** Milliseconds since the epoch as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export function formatHttpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}
