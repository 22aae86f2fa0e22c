// The FEC flags of a sender (spec/CLI.md: --fec-parity, --fec-block, --fec-interleave), checked.
import { DEFAULT_FEC_INTERLEAVE, DEFAULT_FEC_PARITY, fecSettings } from "../fec/layout.js";
import { UsageError, intFlag, numberFlag, type ParsedArgs } from "./options.js";

/** The flags (spread into a command's flag table). */
export const FEC_FLAGS = {
  "fec-parity": { type: "string" },
  "fec-block": { type: "string" },
  "fec-interleave": { type: "string" },
} as const;

export const FEC_USAGE = `  --fec-parity P        parity fragments per source fragment, 0-1 (default ${DEFAULT_FEC_PARITY}; 0 = no FEC)
  --fec-block B         largest source fragments per FEC block (default: the largest with B + ceil(B·P) <= 255)
  --fec-interleave D    FEC blocks interleaved in the send order (default ${DEFAULT_FEC_INTERLEAVE})`;

export interface FecOptions {
  readonly fecParity: number;
  readonly fecBlockLength: number | undefined;
  readonly fecInterleave: number;
}

export function fecOptions(args: ParsedArgs): FecOptions {
  const options: FecOptions = {
    fecParity: numberFlag(args, "fec-parity", DEFAULT_FEC_PARITY, 0),
    fecBlockLength: intFlag(args, "fec-block", undefined, 1, 254),
    fecInterleave: intFlag(args, "fec-interleave", DEFAULT_FEC_INTERLEAVE, 1, 1_000_000),
  };
  try {
    fecSettings(options.fecParity, options.fecBlockLength, options.fecInterleave);
  } catch (error) {
    throw new UsageError(`--fec-*: ${(error as Error).message}`);
  }
  return options;
}
