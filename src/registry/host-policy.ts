import { lookup } from "node:dns/promises";
import { lookup as lookupWithCallback, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { hostnameOf } from "./endpoint.js";
import { RegistryError } from "./errors.js";

export interface PrivateAddressPolicyOptions {
  /** Hosts allowed despite resolving to private addresses, with or without port: `localhost:5000`, `registry.internal`. */
  readonly allow?: readonly string[];
  /** Resolver, for tests; default dns.lookup with all addresses. */
  readonly lookup?: (hostname: string) => Promise<readonly { address: string; family: number }[]>;
}

/** Subnets no registry of the open internet lives in, as `address/prefix`. */
const PRIVATE_SUBNETS: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  // Shared address space: carrier-grade NAT, and some clouds' internal services (Alibaba's metadata is 100.100.100.200).
  "100.64.0.0/10",
  "198.18.0.0/15",
  // Multicast, reserved and broadcast.
  "224.0.0.0/3",
  "::/128",
  "::1/128",
  "fe80::/10",
  "fec0::/10",
  "fc00::/7",
  "ff00::/8",
  // IPv6 forms that carry an IPv4 address a gateway may forward to (NAT64, 6to4): the IPv4 inside may be private.
  "64:ff9b::/96",
  "64:ff9b:1::/48",
  "2002::/16",
];

function privateRanges(): BlockList {
  const list = new BlockList();
  for (const subnet of PRIVATE_SUBNETS) {
    const [address, prefix] = subnet.split("/") as [string, string];
    list.addSubnet(address, Number(prefix), address.includes(":") ? "ipv6" : "ipv4");
  }
  return list;
}

function allowList(allow: readonly string[] | undefined): Set<string> {
  return new Set((allow ?? []).map((entry) => entry.trim().toLowerCase()).filter(Boolean));
}

/**
 * A host policy for the registry client that refuses hosts resolving to loopback, private, link-local or
 * unspecified addresses (any of their addresses), so a hostile file cannot aim the GitHub App at internal
 * services. Checked per host before the first request; pair it with `createAddressCheckedLookup`, which checks
 * again at every connection, so that DNS answers that change afterwards are seen too.
 */
export function createPrivateAddressPolicy(options: PrivateAddressPolicyOptions = {}): (host: string) => Promise<void> {
  const allowed = allowList(options.allow);
  const resolve = options.lookup ?? ((hostname: string) => lookup(hostname, { all: true, verbatim: true }));
  const ranges = privateRanges();

  return async (host: string) => {
    const lower = host.toLowerCase();
    const hostname = hostnameOf(lower);
    if (allowed.has(lower) || allowed.has(hostname) || allowed.has(`[${hostname}]`)) return;
    let addresses: readonly { address: string; family: number }[];
    if (isIP(hostname)) {
      addresses = [{ address: hostname, family: isIP(hostname) }];
    } else {
      try {
        addresses = await resolve(hostname);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "lookup failed";
        throw new RegistryError("NETWORK", `cannot resolve registry host ${hostname} (${code}); check the name`);
      }
    }
    for (const { address, family } of addresses) {
      if (ranges.check(address, family === 6 ? "ipv6" : "ipv4")) {
        throw new RegistryError(
          "FORBIDDEN_HOST",
          `refusing to contact ${host}: it resolves to the private address ${address}; allow the host explicitly if it is a registry you trust`,
        );
      }
    }
  };
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type Lookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A resolver that refuses private addresses (unless the host is allowed by name), for every connection: direct ones,
 * and the CONNECT of a proxy tunnel, which then names the address checked. A host that resolved to a public address
 * for the policy's check and to a private one a moment later (DNS rebinding) is still refused. Hosts allowed by name
 * (the port is checked by the policy, before the request) connect anywhere.
 */
export function createAddressCheckedLookup(options: { readonly allow?: readonly string[]; readonly lookup?: Lookup | LookupFunction } = {}): LookupFunction {
  const allowedHostnames = new Set([...allowList(options.allow)].map((entry) => hostnameOf(entry)));
  const ranges = privateRanges();
  const resolve: Lookup = (options.lookup as Lookup | undefined) ?? (lookupWithCallback as unknown as Lookup);
  const checkedLookup: Lookup = (hostname, lookupOptions, callback) => {
    resolve(hostname, lookupOptions, (error, address, family) => {
      if (error || allowedHostnames.has(hostname.toLowerCase())) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      const refused = addresses.find((a) => ranges.check(a.address, a.family === 6 ? "ipv6" : "ipv4"));
      if (refused) {
        const denied: NodeJS.ErrnoException = new Error(
          `refusing to connect to ${hostname}: it now resolves to the private address ${refused.address}`,
        );
        denied.code = "EDIGESTAPRIVATE";
        return callback(denied, address, family);
      }
      callback(null, address, family);
    });
  };
  return checkedLookup as unknown as LookupFunction;
}
