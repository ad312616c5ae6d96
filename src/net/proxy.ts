import { Agent as HttpAgent, type ClientRequestArgs } from "node:http";
import { BlockList, connect as netConnect, isIP, type LookupFunction, type Socket } from "node:net";
import { Duplex } from "node:stream";
import type { ConnectionOptions } from "node:tls";

/**
 * The proxies of the environment, read as curl, Go and undici read them: `https_proxy`/`HTTPS_PROXY` for https URLs
 * (falling back to the HTTP proxy), `http_proxy`/`HTTP_PROXY` for http URLs, the lowercase name first; `no_proxy`/
 * `NO_PROXY` lists what goes direct.
 */
export interface ProxySettings {
  readonly http?: URL;
  readonly https?: URL;
  readonly noProxy: NoProxy;
}

/** Why a proxy setting cannot be used; the message names the variable, never the proxy's credentials. */
export class ProxyConfigError extends Error {}

export function proxySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings | undefined {
  const read = (name: string): { readonly name: string; readonly value: string } | undefined => {
    for (const key of [name.toLowerCase(), name.toUpperCase()]) {
      const value = env[key]?.trim();
      if (value) return { name: key, value };
    }
    return undefined;
  };
  const httpSetting = read("http_proxy");
  const httpsSetting = read("https_proxy");
  const http = httpSetting ? proxyUrl(httpSetting.name, httpSetting.value) : undefined;
  const https = httpsSetting ? proxyUrl(httpsSetting.name, httpsSetting.value) : http;
  if (!http && !https) return undefined;
  return { ...(http ? { http } : {}), ...(https ? { https } : {}), noProxy: parseNoProxy(read("no_proxy")?.value ?? "") };
}

/** `proxy:3128`, `http://user:pass@proxy:3128`, `https://proxy`; a proxy speaking SOCKS or anything else is refused. */
function proxyUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new ProxyConfigError(`${name} is not a proxy address (give http://HOST:PORT)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ProxyConfigError(`${name} names a ${url.protocol.slice(0, -1)} proxy; only http:// and https:// proxies are supported`);
  }
  if (!url.hostname) throw new ProxyConfigError(`${name} names no proxy host (give http://HOST:PORT)`);
  return url;
}

/** The proxy for `url`, or undefined when it goes direct (no proxy for its scheme, or NO_PROXY lists it). */
export function proxyFor(settings: ProxySettings, url: URL): URL | undefined {
  const proxy = url.protocol === "https:" ? settings.https : url.protocol === "http:" ? settings.http : undefined;
  if (!proxy || bypasses(settings.noProxy, url)) return undefined;
  return proxy;
}

/** A proxy URL as it may be shown: scheme, host and port, never its user name or password. */
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

type NoProxy = "*" | { readonly names: readonly NameRule[]; readonly addresses: BlockList; readonly addressPorts: readonly AddressRule[] };
interface NameRule {
  /** Lowercase, without a leading dot. */
  readonly name: string;
  /** `.example.com` and `*.example.com`: subdomains only. */
  readonly subdomainsOnly: boolean;
  readonly port?: string;
}
interface AddressRule {
  readonly list: BlockList;
  readonly port: string;
}

/**
 * `NO_PROXY` as Go reads it: entries split by commas or spaces; `*` alone turns the proxy off; `example.com` is that
 * host and its subdomains, `.example.com` and `*.example.com` its subdomains only; an IP address or CIDR block
 * (`10.0.0.0/8`, `::1`) matches addresses written in URLs; any entry may end with `:port` to match that port only.
 */
export function parseNoProxy(value: string): NoProxy {
  const entries = value
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  if (entries.includes("*")) return "*";
  const names: NameRule[] = [];
  const addresses = new BlockList();
  const addressPorts: AddressRule[] = [];
  for (const entry of entries) {
    const { host, port } = splitPort(entry);
    const [address, prefix] = host.split("/") as [string, string | undefined];
    const family = isIP(address);
    if (family) {
      const type = family === 6 ? "ipv6" : "ipv4";
      const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) continue;
      if (port) {
        const list = new BlockList();
        list.addSubnet(address, bits, type);
        addressPorts.push({ list, port });
      } else {
        addresses.addSubnet(address, bits, type);
      }
      continue;
    }
    const subdomainsOnly = host.startsWith(".") || host.startsWith("*.");
    const name = host.replace(/^\*?\./, "");
    if (name) names.push({ name, subdomainsOnly, ...(port ? { port } : {}) });
  }
  return { names, addresses, addressPorts };
}

function splitPort(entry: string): { host: string; port?: string } {
  if (entry.startsWith("[")) {
    const close = entry.indexOf("]");
    const host = entry.slice(1, close < 0 ? undefined : close);
    const rest = close < 0 ? "" : entry.slice(close + 1);
    return rest.startsWith(":") && /^\d+$/.test(rest.slice(1)) ? { host, port: rest.slice(1) } : { host };
  }
  const colon = entry.lastIndexOf(":");
  // One colon and digits after it: a port. More colons: a bare IPv6 address.
  if (colon > 0 && entry.indexOf(":") === colon && /^\d+$/.test(entry.slice(colon + 1))) {
    return { host: entry.slice(0, colon), port: entry.slice(colon + 1) };
  }
  return { host: entry };
}

function bypasses(noProxy: NoProxy, url: URL): boolean {
  if (noProxy === "*") return true;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const family = isIP(host);
  if (family) {
    const type = family === 6 ? "ipv6" : "ipv4";
    if (noProxy.addresses.check(host, type)) return true;
    return noProxy.addressPorts.some((rule) => rule.port === port && rule.list.check(host, type));
  }
  return noProxy.names.some((rule) => {
    if (rule.port !== undefined && rule.port !== port) return false;
    if (host.endsWith(`.${rule.name}`)) return true;
    return !rule.subdomainsOnly && host === rule.name;
  });
}

/** A proxy that refused or failed to open a tunnel; `code` EPROXYREFUSED (403, 407: asking again will not help) or EPROXY. */
export class ProxyTunnelError extends Error {
  constructor(
    message: string,
    readonly code: "EPROXYREFUSED" | "EPROXY",
  ) {
    super(message);
  }
}

export interface TunnelOptions {
  /**
   * Resolves the target before the tunnel is asked for, and names the address it returned in the CONNECT instead of
   * the host name: the app's check against private addresses (DNS rebinding) then holds through the proxy, which
   * would otherwise resolve the name itself.
   */
  readonly lookup?: LookupFunction;
}

/**
 * Connections through an HTTP(S) proxy: a CONNECT tunnel for every target (https targets then speak TLS inside it,
 * so what they carry, credentials included, is readable by their server alone; http targets are carried as they
 * are). The proxy's own credentials (its URL's user and password) go to the proxy alone, in Proxy-Authorization.
 * One keep-alive agent per proxy and target scheme.
 */
export function proxyAgents(settings: ProxySettings, options: TunnelOptions = {}): (url: URL) => HttpAgent | undefined {
  const agents = new Map<string, HttpAgent>();
  return (url) => {
    const proxy = proxyFor(settings, url);
    if (!proxy) return undefined;
    const key = `${url.protocol}${proxy.href}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = url.protocol === "https:" ? (newHttpsTunnelAgent(proxy, options)) : new HttpTunnelAgent(proxy, options);
      agents.set(key, agent);
    }
    return agent;
  };
}

/** Tunnels opened ahead of their request, by `host:port`: see TunnelAgent.prepare. */
class ReadyTunnels {
  private readonly ready = new Map<string, Socket[]>();

  constructor(
    private readonly proxy: URL,
    private readonly options: TunnelOptions,
  ) {}

  /** Opens a tunnel unless the agent has an idle connection there; a refusal rejects here, before any request exists. */
  async prepare(host: string, port: number, freeSockets: NodeJS.ReadOnlyDict<unknown[]>): Promise<void> {
    const key = `${host}:${port}`;
    if (Object.entries(freeSockets).some(([name, list]) => name.startsWith(`${key}:`) && (list?.length ?? 0) > 0)) return;
    const socket = await openTunnel(this.proxy, host, port, this.options);
    // Waiting here it keeps no process alive: the request may yet be sent on a connection the agent got back
    // meanwhile, leaving this tunnel unused.
    socket.unref();
    const list = this.ready.get(key) ?? [];
    list.push(socket);
    this.ready.set(key, list);
    socket.once("close", () => {
      const at = list.indexOf(socket);
      if (at >= 0) list.splice(at, 1);
    });
  }

  /** A tunnel opened ahead, or one opened now whose bytes wait for the proxy's answer. */
  take(host: string, port: number): Socket | TunnelSocket {
    const socket = this.ready.get(`${host}:${port}`)?.shift();
    return socket?.ref() ?? tunnelTo(this.proxy, host, port, this.options);
  }
}

/** An agent whose connections are tunnels through a proxy; `prepare` opens one before the request that needs it. */
export interface TunnelAgent {
  prepare(url: URL): Promise<void>;
}

// Node's agents (and the interceptors tests load) want a connection handed back at once: the request that needs one
// opens its tunnel first (prepare), so a proxy's refusal is the request's failure, and createConnection takes it.
class HttpTunnelAgent extends HttpAgent implements TunnelAgent {
  private readonly tunnels: ReadyTunnels;

  constructor(proxy: URL, options: TunnelOptions) {
    super({ keepAlive: true });
    this.tunnels = new ReadyTunnels(proxy, options);
  }

  prepare(url: URL): Promise<void> {
    return this.tunnels.prepare(bareHost(url), Number(url.port || 80), this.freeSockets);
  }

  override createConnection(options: ClientRequestArgs): Duplex {
    return this.tunnels.take(options.host ?? "localhost", Number(options.port ?? 80));
  }
}

type HttpsTunnelAgentClass = new (proxy: URL, options: TunnelOptions) => HttpAgent & TunnelAgent;
let httpsTunnelAgent: HttpsTunnelAgentClass | undefined;

/**
 * An https.Agent whose connections are TLS inside a tunnel. node:https and node:tls (and the crypto they load) are
 * loaded with the first one: a run that speaks plain HTTP, or no proxy, never needs them.
 */
function newHttpsTunnelAgent(proxy: URL, options: TunnelOptions): HttpAgent {
  httpsTunnelAgent ??= class HttpsTunnelAgent extends process.getBuiltinModule("node:https").Agent implements TunnelAgent {
    private readonly tunnels: ReadyTunnels;

    constructor(proxy: URL, options: TunnelOptions) {
      super({ keepAlive: true });
      this.tunnels = new ReadyTunnels(proxy, options);
    }

    prepare(url: URL): Promise<void> {
      return this.tunnels.prepare(bareHost(url), Number(url.port || 443), this.freeSockets);
    }

    override createConnection(options: ClientRequestArgs & ConnectionOptions): Duplex {
      const host = options.host ?? "localhost";
      const tunnel = this.tunnels.take(host, Number(options.port ?? 443));
      const servername = options.servername ?? (isIP(host) ? undefined : host);
      const { host: _host, port: _port, path: _path, ...tlsOptions } = options as ConnectionOptions & { path?: unknown };
      const secure = process.getBuiltinModule("node:tls").connect({ ...tlsOptions, socket: tunnel, ...(servername ? { servername } : {}) });
      // The tunnel's failure (the proxy's refusal) is the reason, not the TLS layer's "socket closed".
      tunnel.once("error", (error) => secure.destroy(error));
      secure.on("error", () => {}); // as for the tunnel: the request holding it hears of the error
      // The agent unrefs a connection it keeps idle and refs it again for its next request; TLS over a stream that is
      // not a socket of its own passes neither on, and the idle tunnel would keep the process alive until the proxy
      // closed it.
      const { ref, unref } = secure;
      secure.ref = function (this: typeof secure) {
        tunnel.ref();
        return ref.call(this);
      };
      secure.unref = function (this: typeof secure) {
        tunnel.unref();
        return unref.call(this);
      };
      return secure;
    }
  };
  return new httpsTunnelAgent(proxy, options);
}

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}


function tunnelTo(proxy: URL, host: string, port: number, options: TunnelOptions): TunnelSocket {
  const tunnel = new TunnelSocket();
  openTunnel(proxy, host, port, options).then(
    (socket) => tunnel.attach(socket),
    (error: Error) => tunnel.destroy(error),
  );
  return tunnel;
}

/** A connection whose writes wait for the tunnel, then pass to it; what the tunnel reads comes out of it. */
class TunnelSocket extends Duplex {
  constructor() {
    super();
    // Whoever holds the connection hears of its failure; nobody holding it yet is no crash.
    this.on("error", () => {});
  }

  private socket: Socket | undefined;
  private pending: { chunk: Buffer; callback: (error?: Error | null) => void }[] = [];
  private ending: ((error?: Error | null) => void) | undefined;
  private keepAlive: [boolean, number] | undefined;
  /** What ref() and unref() last asked, kept for a tunnel not there yet. */
  private referenced = true;

  attach(socket: Socket): void {
    if (this.destroyed) return void socket.destroy();
    this.socket = socket;
    if (this.keepAlive) socket.setKeepAlive(...this.keepAlive);
    if (!this.referenced) socket.unref();
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.once("end", () => this.push(null));
    socket.once("error", (error) => this.destroy(error));
    socket.once("close", () => this.destroy());
    for (const { chunk, callback } of this.pending.splice(0)) socket.write(chunk, callback);
    if (this.ending) socket.end(this.ending);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket) this.socket.write(chunk, callback);
    else this.pending.push({ chunk, callback });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.socket) this.socket.end(callback);
    else this.ending = callback;
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket?.destroy();
    for (const { callback: written } of this.pending.splice(0)) written(error ?? new Error("the tunnel closed"));
    callback(error);
  }

  // What Node's agents and requests ask of a connection.
  address(): ReturnType<Socket["address"]> {
    return this.socket?.address() ?? {};
  }
  setKeepAlive(enable = false, delay = 0): this {
    this.keepAlive = [enable, delay];
    this.socket?.setKeepAlive(enable, delay);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket?.setNoDelay(noDelay);
    return this;
  }
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once("timeout", callback);
    return this;
  }
  ref(): this {
    this.referenced = true;
    this.socket?.ref();
    return this;
  }
  unref(): this {
    this.referenced = false;
    this.socket?.unref();
    return this;
  }
}

const TUNNEL_TIMEOUT_MS = 30_000;

/** Longest proxy answer to a CONNECT read: a status line and headers. */
const MAX_CONNECT_ANSWER = 16 * 1024;

/**
 * Asks the proxy for a tunnel to `host:port` on a connection of its own (plain, or TLS to an https:// proxy), and
 * resolves with that connection once the proxy answers 200. Written by hand rather than with http.request: the CONNECT
 * is one request line and a few headers, and the answer's status line is all that is needed from it.
 */
async function openTunnel(proxy: URL, host: string, port: number, options: TunnelOptions): Promise<Socket> {
  const target = options.lookup ? await resolveThrough(options.lookup, host) : host.replace(/^\[|\]$/g, "");
  const authority = `${isIP(target) === 6 ? `[${target}]` : target}:${port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username || proxy.password) {
    const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(user).toString("base64")}`);
  }
  const shown = describeProxy(proxy);
  const proxyHost = proxy.hostname.replace(/^\[|\]$/g, "");
  const proxyPort = Number(proxy.port || (proxy.protocol === "https:" ? 443 : 80));
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket =
      proxy.protocol === "https:"
        ? process.getBuiltinModule("node:tls").connect({ host: proxyHost, port: proxyPort, ...(isIP(proxyHost) ? {} : { servername: proxyHost }) })
        : netConnect({ host: proxyHost, port: proxyPort });
    let answer = Buffer.alloc(0);
    const fail = (error: ProxyTunnelError) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(TUNNEL_TIMEOUT_MS, () => fail(new ProxyTunnelError(`the proxy ${shown} did not answer within ${TUNNEL_TIMEOUT_MS / 1000} s`, "EPROXY")));
    socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => socket.write(`${lines.join("\r\n")}\r\n\r\n`));
    socket.on("error", (error: NodeJS.ErrnoException) => fail(new ProxyTunnelError(`cannot reach the proxy ${shown}: ${error.code ?? error.message}`, "EPROXY")));
    socket.once("close", () => fail(new ProxyTunnelError(`the proxy ${shown} closed the connection before answering`, "EPROXY")));
    const onData = (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (answer.length > MAX_CONNECT_ANSWER) fail(new ProxyTunnelError(`the proxy ${shown} sent an answer too long to be one`, "EPROXY"));
        return;
      }
      socket.off("data", onData);
      socket.removeAllListeners("close");
      socket.removeAllListeners("error");
      const status = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(answer.subarray(0, end).toString("latin1"));
      const code = status ? Number(status[1]) : 0;
      if (code === 200 && answer.length === end + 4) {
        socket.setTimeout(0);
        resolve(socket);
        return;
      }
      const text = status ? `${code}${status[2]!.replace(/[^\x20-\x7e]/g, "").slice(0, 80)}` : "an answer that is not HTTP";
      const why = code === 407 ? " (the proxy asks for credentials: give its user and password in the proxy variable's URL)" : "";
      fail(new ProxyTunnelError(`the proxy ${shown} refused a tunnel to ${host}:${port}: ${text}${why}`, code === 403 || code === 407 ? "EPROXYREFUSED" : "EPROXY"));
    };
    socket.on("data", onData);
  });
}

function resolveThrough(lookup: LookupFunction, host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (isIP(bare)) return Promise.resolve(bare);
  return new Promise((resolve, reject) => {
    lookup(bare, {}, (error, address) => {
      if (error) reject(error);
      else resolve(typeof address === "string" ? address : (address as unknown as { address: string }[])[0]!.address);
    });
  });
}
