// The library's one error style (see README "Errors"):
//  - setup and API misuse (bad options, sockets that cannot be opened, invalid objects to send,
//    unreadable key files) throw condcast::Error;
//  - per-datagram and per-object outcomes on the receive path are never exceptions: they are
//    DropReason / ObjectDropReason values, counted in ReceiverCounters.
#pragma once

#include <stdexcept>
#include <string>

namespace condcast {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws Error("<what>: <strerror(errno)>").
[[noreturn]] void throwSystemError(const std::string& what);

}  // namespace condcast
