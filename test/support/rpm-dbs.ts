// rpm databases made by Debian's own rpm: packages built with rpmbuild from a minimal spec, registered with
// `rpm -i --justdb` into a database `rpm --initdb` made (SQLite, rpm's only writable backend in Debian), and a
// Berkeley DB `Packages` made from rpm's own header blobs by db5.3_load, Berkeley DB's own loader.
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface RpmSpec {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch?: number;
  /** Default noarch. */
  readonly arch?: "noarch" | "x86_64";
}

/** `name-[epoch:]version-release.arch`, as `rpm -qa --qf` below prints each package. */
export const nevra = (s: RpmSpec): string => `${s.name}-${s.epoch ? `${s.epoch}:` : ""}${s.version}-${s.release}.${s.arch ?? "noarch"}`;

interface Run {
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a command to its end; rejects with its stderr when it fails or is missing. */
export function run(command: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.once("error", (error) => reject(new Error(`could not run ${command} (run scripts/install-test-deps.sh): ${error.message}`)));
    child.once("close", (code) =>
      code === 0 ? resolve({ stdout: Buffer.concat(out), stderr: err }) : reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${err.trim()}`)),
    );
    // A command that exits without reading its input: its exit code tells what went wrong, not EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** A scratch folder for rpmbuild and rpm databases. */
export class RpmWorkspace {
  private readonly built = new Map<string, Promise<string>>();
  private loads = 0;

  constructor(readonly dir: string) {}

  static async create(dir: string): Promise<RpmWorkspace> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new RpmWorkspace(dir);
  }

  /** The .rpm of a spec, built once. */
  build(spec: RpmSpec): Promise<string> {
    const key = nevra(spec);
    let done = this.built.get(key);
    if (!done) {
      done = this.rpmbuild(spec);
      this.built.set(key, done);
    }
    return done;
  }

  private async rpmbuild(spec: RpmSpec): Promise<string> {
    const top = join(this.dir, "build", nevra(spec));
    await mkdir(join(top, "SPECS"), { recursive: true });
    const specFile = join(top, "SPECS", "p.spec");
    const lines = [`Name: ${spec.name}`, `Version: ${spec.version}`, `Release: ${spec.release}`];
    if (spec.epoch) lines.push(`Epoch: ${spec.epoch}`);
    if ((spec.arch ?? "noarch") === "noarch") lines.push("BuildArch: noarch");
    lines.push("Summary: digesta test package", "License: MIT", "%description", "A package for digesta's tests.", "%files", "");
    await writeFile(specFile, lines.join("\n"));
    const arch = spec.arch ?? "noarch";
    await run("rpmbuild", ["--define", `_topdir ${top}`, "--define", "_build_id_links none", ...(arch === "x86_64" ? ["--target", "x86_64"] : []), "-bb", specFile]);
    return join(top, "RPMS", arch, `${spec.name}-${spec.version}-${spec.release}.${arch}.rpm`);
  }

  /** A new, empty database folder made by `rpm --initdb`. */
  async initDb(name: string): Promise<string> {
    const dbpath = join(this.dir, "db", name);
    await rm(dbpath, { recursive: true, force: true });
    await mkdir(dbpath, { recursive: true });
    await run("rpm", ["--initdb", "--dbpath", dbpath]);
    return dbpath;
  }

  /** `rpm -i --justdb` of these packages into the database. */
  async install(dbpath: string, specs: readonly RpmSpec[]): Promise<void> {
    const files = await Promise.all(specs.map((s) => this.build(s)));
    await run("rpm", ["-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--ignoreos", "--dbpath", dbpath, ...files]);
  }

  /** `rpm -e --justdb` of these package names. */
  async erase(dbpath: string, names: readonly string[]): Promise<void> {
    await run("rpm", ["-e", "--justdb", "--nodeps", "--noscripts", "--dbpath", dbpath, ...names]);
  }

  /** `rpm -U --justdb` to these packages. */
  async upgrade(dbpath: string, specs: readonly RpmSpec[]): Promise<void> {
    const files = await Promise.all(specs.map((s) => this.build(s)));
    await run("rpm", ["-U", "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--ignoreos", "--dbpath", dbpath, ...files]);
  }

  /** What rpm itself lists: `name-[epoch:]version-release.arch source-rpm`, sorted. */
  async query(dbpath: string): Promise<string[]> {
    const { stdout } = await run("rpm", ["-qa", "--dbpath", dbpath, "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH} %{SOURCERPM}\\n"]);
    return stdout.toString("utf8").trim().split("\n").filter(Boolean).sort();
  }

  /**
   * Runs `step` (an rpm transaction) while another SQLite connection holds a read transaction open, as a concurrent
   * `rpm -q` would: rpm's commit then stays in `rpmdb.sqlite-wal` (its checkpoint cannot pass the reader; rpm gives
   * up after its 10-second busy timeout), and the files are copied as rpm left them, before the reader lets go.
   */
  async leavingWal(dbpath: string, step: () => Promise<void>): Promise<{ sqlite: Buffer; wal: Buffer }> {
    const database = join(dbpath, "rpmdb.sqlite");
    const reader = spawn("sqlite3", [database], { stdio: ["pipe", "pipe", "pipe"] });
    const exited = new Promise<void>((resolve) => reader.once("close", () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        reader.once("error", reject);
        reader.stdout.once("data", () => resolve());
        reader.stdin.write("BEGIN; SELECT count(*) FROM Packages;\n");
      });
      await step();
      return { sqlite: await readFile(database), wal: await readFile(`${database}-wal`) };
    } finally {
      reader.stdin.end();
      await exited;
    }
  }

  /** The header blobs of an rpm SQLite database, by instance number, as rpm stored them. */
  async headerBlobs(dbpath: string): Promise<Array<[number, Buffer]>> {
    const { stdout } = await run("sqlite3", ["-readonly", join(dbpath, "rpmdb.sqlite"), "SELECT hnum, hex(blob) FROM Packages ORDER BY hnum"]);
    return stdout
      .toString("utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [hnum, hex] = line.split("|") as [string, string];
        return [Number(hnum), Buffer.from(hex, "hex")];
      });
  }

  /**
   * A Berkeley DB hash `Packages` as rpm before 4.16 kept it (key: the instance number in host byte order; value: the
   * header blob; key 0: the next instance number), written by db5.3_load from rpm's own header blobs.
   */
  async berkeleyDb(blobs: ReadonlyArray<readonly [number, Uint8Array]>, pageSize = 4096): Promise<Buffer> {
    const u32 = (n: number): string => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b.toString("hex");
    };
    const next = Math.max(0, ...blobs.map(([n]) => n)) + 1;
    const lines = ["VERSION=3", "format=bytevalue", "type=hash", `db_pagesize=${pageSize}`, "HEADER=END", ` ${u32(0)}`, ` ${u32(next)}`];
    for (const [hnum, blob] of blobs) lines.push(` ${u32(hnum)}`, ` ${Buffer.from(blob).toString("hex")}`);
    lines.push("DATA=END", "");
    const file = join(this.dir, `Packages-${pageSize}-${++this.loads}`);
    await writeFile(`${file}.dump`, lines.join("\n"));
    try {
      await run("db5.3_load", ["-f", `${file}.dump`, file]);
      return await readFile(file);
    } finally {
      await rm(file, { force: true });
      await rm(`${file}.dump`, { force: true });
    }
  }
}
