/**
 * A URL without its password, for messages.
 *
 * @example
 * redactUrl("redis://ann:secret@h:6379"); // "redis://ann:***@h:6379"
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}
