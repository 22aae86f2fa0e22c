// The multicast flags common to send and recv, turned into library options.
import { isIPv4 } from "node:net";
import { readKeyFile, type AuthKey } from "../wire/auth.js";
import {
  DEFAULT_DATAGRAM_SIZE,
  DEFAULT_GROUP,
  DEFAULT_INTERFACE,
  DEFAULT_PORT,
  DEFAULT_RATE,
  DEFAULT_TTL,
  MAX_DATAGRAM_SIZE,
  MIN_DATAGRAM_SIZE,
} from "../wire/constants.js";
import { UsageError, intFlag, numberFlag, stringFlag, type ParsedArgs } from "./options.js";

export interface NetworkOptions {
  readonly group: string;
  readonly port: number;
  readonly interface: string;
  readonly ttl: number;
  readonly datagramSize: number;
  readonly rate: number;
  readonly key: AuthKey | undefined;
}

export function networkOptions(args: ParsedArgs): NetworkOptions {
  const group = stringFlag(args, "group") ?? DEFAULT_GROUP;
  if (!isIPv4(group) || Number(group.split(".")[0]) < 224 || Number(group.split(".")[0]) > 239) {
    throw new UsageError(`--group must be an IPv4 multicast address, got ${group}`);
  }
  const iface = stringFlag(args, "interface") ?? DEFAULT_INTERFACE;
  if (!isIPv4(iface)) throw new UsageError(`--interface must be the IPv4 address of an interface, got ${iface}`);
  const keyFile = stringFlag(args, "key-file");
  const keyId = intFlag(args, "key-id", 1, 0, 0xffffffff);
  let key: AuthKey | undefined;
  if (keyFile !== undefined) {
    try {
      key = readKeyFile(keyFile, keyId);
    } catch (error) {
      throw new UsageError(`--key-file ${keyFile}: ${(error as Error).message}`);
    }
  }
  return {
    group,
    port: intFlag(args, "port", DEFAULT_PORT, 1, 65535),
    interface: iface,
    ttl: intFlag(args, "ttl", DEFAULT_TTL, 0, 255),
    datagramSize: intFlag(args, "datagram-size", DEFAULT_DATAGRAM_SIZE, MIN_DATAGRAM_SIZE, MAX_DATAGRAM_SIZE),
    rate: numberFlag(args, "rate", DEFAULT_RATE, 0),
    key,
  };
}
