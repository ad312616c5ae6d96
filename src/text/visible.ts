// Control characters (a line break would end a table row), and invisible or direction-changing characters that
// could disguise a name (Trojan Source).
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Hostile text with every control and invisible character replaced by U+FFFD, so what is shown is what is there. */
export function visible(text: string): string {
  return text.replace(INVISIBLE, "\ufffd");
}
