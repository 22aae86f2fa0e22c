// One datagram in, one verdict out (SPEC 5.1): the per-datagram checks every receiver applies.
// Mirrors ts/src/wire/decode.ts. A fragment is parsed in place by a reused FragmentView (no
// allocation); heartbeats and lifecycle messages (rare) are decoded with the generated codec.
#pragma once

#include <cstdint>
#include <span>

#include "condcast/auth.hpp"
#include "condcast/control.hpp"
#include "condcast/fragment.hpp"
#include "condcast/reasons.hpp"

namespace condcast {

struct DecodeOptions {
  /// Keys to require and verify; empty means trailers are ignored.
  KeyRing keys;
  /// Largest envelope accepted (capped at kMaxEnvelopeLength).
  std::uint64_t maxEnvelopeLength = kMaxEnvelopeLength;
};

enum class Decoded : std::uint8_t { Fragment, Heartbeat, Lifecycle, Commit, Rejected };

struct DecodeResult {
  Decoded kind = Decoded::Rejected;
  DropReason reason = DropReason::Truncated;  ///< meaningful when kind == Rejected
};

class DatagramDecoder {
 public:
  explicit DatagramDecoder(DecodeOptions options = {});

  /// Decodes and checks one datagram. After a Fragment result, fragment() views `datagram` (valid
  /// until the next call and while `datagram` lives); after Heartbeat/Lifecycle, heartbeat() or
  /// lifecycle() hold the message; after Commit, commit().
  DecodeResult decode(std::span<const std::uint8_t> datagram);

  const FragmentView& fragment() const noexcept { return view_; }
  const HeartbeatInfo& heartbeat() const noexcept { return heartbeat_; }
  const LifecycleInfo& lifecycle() const noexcept { return lifecycle_; }
  const CommitInfo& commit() const noexcept { return commit_; }

 private:
  DecodeOptions options_;
  AuthVerifier verifier_;
  FragmentView view_;
  HeartbeatInfo heartbeat_;
  LifecycleInfo lifecycle_;
  CommitInfo commit_;
};

}  // namespace condcast
