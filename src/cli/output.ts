/** Output gathered into pieces of this many characters: one write (a system call on a pipe or file) each. */
const CHUNK = 64 * 1024;

/** Collects text and writes it to `stream` in large pieces, instead of one write per line. */
export class ChunkedWriter {
  private parts: string[] = [];
  private length = 0;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  write(text: string): void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= CHUNK) this.flush();
  }

  flush(): void {
    if (this.length === 0) return;
    this.stream.write(this.parts.join(""));
    this.parts = [];
    this.length = 0;
  }
}
