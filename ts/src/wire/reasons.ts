// Drop reasons of spec/SPEC.md section 6: the same strings in every implementation.

/** Why a single datagram was dropped (SPEC 5.1), checked in this order. */
export const DATAGRAM_REASONS = [
  "truncated",
  "bad_magic",
  "bad_version",
  "bad_flags",
  "unknown_kind",
  "unauthenticated",
  "unknown_key",
  "bad_mac",
  "malformed",
  "bad_object_id",
  "unsupported_fec",
  "bad_fec",
  "oversize",
  "bad_length",
  "index_out_of_range",
  "bad_commit",
] as const;
export type DatagramReason = (typeof DATAGRAM_REASONS)[number];

/** Why an accepted datagram was not used during reassembly (SPEC 5.2). */
export const REASSEMBLY_REASONS = ["inconsistent", "duplicate", "over_capacity"] as const;
export type ReassemblyReason = (typeof REASSEMBLY_REASONS)[number];

/** Why a whole object was dropped (SPEC 5.2). */
export const OBJECT_REASONS = ["bad_metadata", "md5_mismatch", "expired", "uncommitted"] as const;
export type ObjectReason = (typeof OBJECT_REASONS)[number];

export type DropReason = DatagramReason | ReassemblyReason;
