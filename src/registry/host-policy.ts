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

function privateRanges(): BlockList {
  const list = new BlockList();
  list.addSubnet("127.0.0.0", 8, "ipv4");
  list.addSubnet("10.0.0.0", 8, "ipv4");
  list.addSubnet("172.16.0.0", 12, "ipv4");
  list.addSubnet("192.168.0.0", 16, "ipv4");
  list.addSubnet("169.254.0.0", 16, "ipv4");
  list.addSubnet("0.0.0.0", 8, "ipv4");
  // Shared address space: carrier-grade NAT, and some clouds' internal services (Alibaba's metadata is 100.100.100.200).
  list.addSubnet("100.64.0.0", 10, "ipv4");
  list.addSubnet("198.18.0.0", 15, "ipv4");
  // Multicast, reserved and broadcast.
  list.addSubnet("224.0.0.0", 3, "ipv4");
  list.addAddress("::", "ipv6");
  list.addAddress("::1", "ipv6");
  list.addSubnet("fe80::", 10, "ipv6");
  list.addSubnet("fec0::", 10, "ipv6");
  list.addSubnet("fc00::", 7, "ipv6");
  list.addSubnet("ff00::", 8, "ipv6");
  // IPv6 forms that carry an IPv4 address a gateway may forward to (NAT64, 6to4): the IPv4 inside may be private.
  list.addSubnet("64:ff9b::", 96, "ipv6");
  list.addSubnet("64:ff9b:1::", 48, "ipv6");
  list.addSubnet("2002::", 16, "ipv6");
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
