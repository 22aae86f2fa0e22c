// condcast native send path: a UDP multicast socket that hands a whole batch of datagrams to the
// kernel with one sendmmsg, and with UDP GSO (UDP_SEGMENT) where the kernel offers it. The sender
// (ts/src/sender/native.ts) loads it when it is built; without it the sender uses node:dgram.
//
// Built by the root Makefile's `ts` target with plain cc (no node-gyp), against Node-API only:
//   cc -O2 -shared -fPIC -I<node include dir> -o ts/dist/native/udp_batch.node ts/native/udp_batch.c ts/native/napi_util.c
//
// JavaScript interface (every function throws an Error whose message carries the errno text):
//   open(interface, group, port, ttl, loop) -> handle   bound to interface:0, IP_MULTICAST_IF/TTL/LOOP,
//                                                       connected to group:port, blocking
//   send(handle, buffer, stride, lengths, count) -> n   datagram j is buffer[j*stride, j*stride+lengths[j]);
//                                                       returns count once all are with the kernel
//   close(handle)                                       idempotent; the finalizer closes too
//   stats(handle) -> { gso, calls, messages, gsoMessages, datagrams, retries }
//   setGso(handle, on) -> gso                           on only when the kernel supports it
//   setNoChecksum(handle)                               SO_NO_CHECK: the kernel then refuses GSO with
//                                                       EINVAL (tests of the fallback use it)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "napi_util.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SO_NO_CHECK
#define SO_NO_CHECK 11
#endif

#define MAX_MESSAGES 256        // messages per sendmmsg call (and datagrams per round)
#define MAX_GSO_SEGMENTS 64     // UDP_MAX_SEGMENTS of kernels before 6.9
#define MAX_GSO_BYTES 65000     // one GSO message stays below the IPv4 length limit
#define RETRY_WAIT_NS 100000    // EAGAIN / ENOBUFS: wait 100 us, then try again
#define RETRY_LIMIT_NS 5000000000LL  // give up after 5 s of waiting for buffer space

typedef struct {
  int fd;
  int gso;            // 1: runs of equal-length datagrams go out as one UDP_SEGMENT message
  int gsoSupported;   // the kernel knows UDP_SEGMENT
  double calls, messages, gsoMessages, datagrams, retries;
  struct mmsghdr msgs[MAX_MESSAGES];
  struct iovec iov[MAX_MESSAGES];
  uint32_t first[MAX_MESSAGES];  // per message: its first datagram in the round
  unsigned char control[MAX_MESSAGES][CMSG_SPACE(sizeof(uint16_t))];
} Socket;

// ---------------------------------------------------------------------------------------------------
// Helpers

static void finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  Socket* s = data;
  if (s->fd >= 0) close(s->fd);
  free(s);
}

static Socket* getSocket(napi_env env, napi_value value) {
  return getExternal(env, value, "expected a handle from open()");
}

static void waitForBuffer(void) {
  struct timespec t = {0, RETRY_WAIT_NS};
  nanosleep(&t, NULL);
}

static int isGsoFailure(int error) {
  return error == EIO || error == EINVAL || error == EOPNOTSUPP || error == ENOPROTOOPT || error == EMSGSIZE;
}

// ---------------------------------------------------------------------------------------------------
// open(interface, group, port, ttl, loop)

static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!getArguments(env, info, argv, 5, "open(interface, group, port, ttl, loop)")) return NULL;
  int32_t port, ttl;
  bool loop;
  struct in_addr iface, group;
  if (!getAddress(env, argv[0], "interface", &iface) || !getAddress(env, argv[1], "group", &group)) return NULL;
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) return throwType(env, "port must be in [0, 65535]");
  if (napi_get_value_int32(env, argv[3], &ttl) != napi_ok || ttl < 0 || ttl > 255) return throwType(env, "ttl must be in [0, 255]");
  if (napi_get_value_bool(env, argv[4], &loop) != napi_ok) return throwType(env, "loop must be a boolean");

  Socket* s = calloc(1, sizeof *s);
  if (s == NULL) return throwErrno(env, "open", ENOMEM);
  s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    int error = errno;
    free(s);
    return throwErrno(env, "socket", error);
  }
  const char* step = NULL;
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr = iface, .sin_port = 0};
  unsigned char ttlByte = (unsigned char)ttl, loopByte = loop ? 1 : 0;
  int sendBuffer = 4 * 1024 * 1024;
  if (bind(s->fd, (const struct sockaddr*)&local, sizeof local) != 0) step = "bind";
  else if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0) step = "IP_MULTICAST_IF";
  else if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttlByte, sizeof ttlByte) != 0) step = "IP_MULTICAST_TTL";
  else if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loopByte, sizeof loopByte) != 0) step = "IP_MULTICAST_LOOP";
  if (step == NULL) {
    (void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer);  // best effort
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_addr = group, .sin_port = htons((uint16_t)port)};
    if (connect(s->fd, (const struct sockaddr*)&remote, sizeof remote) != 0) step = "connect";
  }
  if (step != NULL) {
    int error = errno;
    close(s->fd);
    free(s);
    char what[192];
    char ifaceText[INET_ADDRSTRLEN], groupText[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &iface, ifaceText, sizeof ifaceText);
    inet_ntop(AF_INET, &group, groupText, sizeof groupText);
    snprintf(what, sizeof what, "%s %s -> %s:%d", step, ifaceText, groupText, port);
    return throwErrno(env, what, error);
  }
  // Runtime detection: kernels without UDP GSO (< 4.18) do not know the option.
  int segment = 0;
  socklen_t length = sizeof segment;
  s->gsoSupported = getsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &segment, &length) == 0;
  s->gso = s->gsoSupported;
  napi_value handle;
  if (napi_create_external(env, s, finalize, NULL, &handle) != napi_ok) {
    close(s->fd);
    free(s);
    napi_throw_error(env, "ERR_CONDCAST_NATIVE", "napi_create_external failed");
    return NULL;
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------------
// send(handle, buffer, stride, lengths, count)

static napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!getArguments(env, info, argv, 5, "send(handle, buffer, stride, lengths, count)")) return NULL;
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->fd < 0) return throwErrno(env, "send on a closed socket", EBADF);

  size_t bufferLength = 0, lengthsLength = 0;
  void* data = NULL;
  void* lengthsData = NULL;
  if (!getTypedArray(env, argv[1], napi_uint8_array, &data, &bufferLength, NULL)) return throwType(env, "buffer must be a Uint8Array");
  if (!getTypedArray(env, argv[3], napi_uint32_array, &lengthsData, &lengthsLength, NULL)) return throwType(env, "lengths must be a Uint32Array");
  int64_t stride, count;
  if (napi_get_value_int64(env, argv[2], &stride) != napi_ok || stride < 1 || stride > 65535) return throwType(env, "stride must be in [1, 65535]");
  if (napi_get_value_int64(env, argv[4], &count) != napi_ok || count < 0 || (uint64_t)count > lengthsLength) {
    return throwType(env, "count must be in [0, lengths.length]");
  }
  const uint32_t* lengths = lengthsData;
  unsigned char* bytes = data;
  for (int64_t j = 0; j < count; j++) {
    if (lengths[j] > (uint64_t)stride || (uint64_t)(j * stride) + lengths[j] > bufferLength) {
      return throwType(env, "a datagram lies outside the buffer (or is longer than the stride)");
    }
  }

  int64_t next = 0;  // first datagram not yet handed to the kernel
  long long waitedNs = 0;
  while (next < count) {
    // One round: up to MAX_MESSAGES messages and MAX_MESSAGES datagrams (one iovec each). With GSO,
    // a run of equal-length datagrams (the last may be shorter, which ends the run) is one message
    // with UDP_SEGMENT; otherwise each datagram is a message of its own.
    const int useGso = s->gso;
    int messageCount = 0, iovCount = 0;
    int64_t d = next;
    while (d < count && messageCount < MAX_MESSAGES && iovCount < MAX_MESSAGES) {
      struct mmsghdr* m = &s->msgs[messageCount];
      memset(m, 0, sizeof *m);
      m->msg_hdr.msg_iov = &s->iov[iovCount];
      s->first[messageCount] = (uint32_t)(d - next);
      const uint32_t segment = lengths[d];
      uint32_t segments = 0, total = 0;
      while (d < count && iovCount < MAX_MESSAGES) {
        const uint32_t length = lengths[d];
        // An empty datagram cannot be a GSO segment (it would vanish into the message): it goes alone.
        if (segments > 0 && (!useGso || length > segment || length == 0 || segments == MAX_GSO_SEGMENTS || total + length > MAX_GSO_BYTES)) break;
        s->iov[iovCount].iov_base = bytes + d * stride;
        s->iov[iovCount].iov_len = length;
        iovCount++;
        segments++;
        total += length;
        d++;
        if (length < segment) break;  // a shorter segment ends a GSO message
      }
      m->msg_hdr.msg_iovlen = segments;
      if (segments > 1) {
        m->msg_hdr.msg_control = s->control[messageCount];
        m->msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr* c = CMSG_FIRSTHDR(&m->msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t gsoSize = (uint16_t)segment;
        memcpy(CMSG_DATA(c), &gsoSize, sizeof gsoSize);
      }
      messageCount++;
    }
    const int64_t roundEnd = d;

    // Hand the messages to the kernel; on a GSO failure switch GSO off and rebuild from there.
    int done = 0;
    int rebuild = 0;
    while (done < messageCount) {
      const int sent = sendmmsg(s->fd, &s->msgs[done], (unsigned)(messageCount - done), 0);
      s->calls++;
      if (sent < 0) {
        const int error = errno;
        if (error == EINTR) continue;
        if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
          if (waitedNs >= RETRY_LIMIT_NS) return throwErrno(env, "sendmmsg (no buffer space for 5 s)", error);
          s->retries++;
          waitForBuffer();
          waitedNs += RETRY_WAIT_NS;
          continue;
        }
        if (useGso && s->msgs[done].msg_hdr.msg_control != NULL && isGsoFailure(error)) {
          s->gso = 0;
          next += s->first[done];
          rebuild = 1;
          break;
        }
        return throwErrno(env, "sendmmsg", error);
      }
      for (int k = 0; k < sent; k++) {
        const struct mmsghdr* m = &s->msgs[done + k];
        if (m->msg_hdr.msg_control != NULL) s->gsoMessages++;
        s->datagrams += (double)m->msg_hdr.msg_iovlen;
      }
      s->messages += sent;
      done += sent;
    }
    if (!rebuild) next = roundEnd;
  }
  napi_value result;
  CHECK(napi_create_int64(env, count, &result));
  return result;
}

// ---------------------------------------------------------------------------------------------------
// close, stats, setGso, setNoChecksum

static napi_value Close(napi_env env, napi_callback_info info) {
  Socket* s = handleArgument(env, info, "close(handle)");
  if (s == NULL) return NULL;
  if (s->fd >= 0) {
    const int fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0 && errno != EINTR) return throwErrno(env, "close", errno);
  }
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  Socket* s = handleArgument(env, info, "stats(handle)");
  if (s == NULL) return NULL;
  napi_value out;
  CHECK(napi_create_object(env, &out));
  if (!setBoolean(env, out, "gso", s->gso) || !setNumber(env, out, "calls", s->calls) || !setNumber(env, out, "messages", s->messages) ||
      !setNumber(env, out, "gsoMessages", s->gsoMessages) || !setNumber(env, out, "datagrams", s->datagrams) ||
      !setNumber(env, out, "retries", s->retries)) {
    napi_throw_error(env, "ERR_CONDCAST_NATIVE", "stats: N-API call failed");
    return NULL;
  }
  return out;
}

static napi_value SetGso(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on;
  if (!getArguments(env, info, argv, 2, "setGso(handle, on)")) return NULL;
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return throwType(env, "on must be a boolean");
  s->gso = on && s->gsoSupported;
  napi_value result;
  CHECK(napi_get_boolean(env, s->gso != 0, &result));
  return result;
}

static napi_value SetNoChecksum(napi_env env, napi_callback_info info) {
  Socket* s = handleArgument(env, info, "setNoChecksum(handle)");
  if (s == NULL) return NULL;
  if (s->fd < 0) return throwErrno(env, "setNoChecksum on a closed socket", EBADF);
  int on = 1;
  if (setsockopt(s->fd, SOL_SOCKET, SO_NO_CHECK, &on, sizeof on) != 0) return throwErrno(env, "SO_NO_CHECK", errno);
  return NULL;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      NAPI_FUNCTION("open", Open),   NAPI_FUNCTION("send", Send),     NAPI_FUNCTION("close", Close),
      NAPI_FUNCTION("stats", Stats), NAPI_FUNCTION("setGso", SetGso), NAPI_FUNCTION("setNoChecksum", SetNoChecksum),
  };
  return defineFunctions(env, exports, functions, sizeof functions / sizeof functions[0]);
}
