import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
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

/**
 * A host policy for the registry client that refuses hosts resolving to loopback, private, link-local or
 * unspecified addresses (any of their addresses), so a hostile file cannot aim the GitHub App at internal
 * services. Checked per host before the first request; DNS answers that change afterwards are not seen.
 */
export function createPrivateAddressPolicy(options: PrivateAddressPolicyOptions = {}): (host: string) => Promise<void> {
  const allowed = new Set((options.allow ?? []).map((entry) => entry.trim().toLowerCase()).filter(Boolean));
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
