// RAII for the UDP sockets the sender and receiver use. Setup failures throw condcast::Error.
#pragma once

#include <netinet/in.h>

#include <string>

namespace condcast {

/// An owned file descriptor; closed on destruction.
class UdpSocket {
 public:
  UdpSocket();  ///< an IPv4 UDP socket (close-on-exec)
  ~UdpSocket();
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// Parses a dotted-quad IPv4 address; throws Error.
in_addr parseIpv4(const std::string& text, const char* what);
/// True for 224.0.0.0 - 239.255.255.255.
bool isMulticast(in_addr address) noexcept;

}  // namespace condcast
