// condcast native send path: a UDP multicast socket that hands a whole batch of datagrams to the
// kernel with one sendmmsg, and with UDP GSO (UDP_SEGMENT) where the kernel offers it. The sender
// (ts/src/sender/native.ts) loads it when it is built; without it the sender uses node:dgram.
//
// Built by the root Makefile's `ts` target with plain cc (no node-gyp), against Node-API only:
//   cc -O2 -shared -fPIC -I<node include dir> -o ts/dist/native/udp_batch.node ts/native/udp_batch.c
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

#include <node_api.h>

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

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ERR_CONDCAST_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static const char* errnoName(int error) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(error);
  if (name != NULL) return name;
#endif
  (void)error;
  return "ERR_CONDCAST_NATIVE";
}

// Throws Error("<what>: <strerror> (<ENAME>)") with code ENAME and errno set; returns NULL.
static napi_value throwErrno(napi_env env, const char* what, int error) {
  char message[320];
  snprintf(message, sizeof message, "%s: %s (%s)", what, strerror(error), errnoName(error));
  napi_value msg, code, err, num;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, errnoName(error), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, msg, &err) != napi_ok) {
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  if (napi_create_int32(env, -error, &num) == napi_ok) napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
  return NULL;
}

static napi_value throwType(napi_env env, const char* message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  Socket* s = data;
  if (s->fd >= 0) close(s->fd);
  free(s);
}

static Socket* getSocket(napi_env env, napi_value value) {
  napi_valuetype type;
  void* data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throwType(env, "expected a handle from open()");
    return NULL;
  }
  return data;
}

static int getString(napi_env env, napi_value value, char* out, size_t size) {
  size_t length = 0;
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok && length < size - 1;
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
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throwType(env, "open(interface, group, port, ttl, loop)");
  char ifaceText[64], groupText[64];
  int32_t port, ttl;
  bool loop;
  if (!getString(env, argv[0], ifaceText, sizeof ifaceText)) return throwType(env, "interface must be an IPv4 address");
  if (!getString(env, argv[1], groupText, sizeof groupText)) return throwType(env, "group must be an IPv4 address");
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) return throwType(env, "port must be in [0, 65535]");
  if (napi_get_value_int32(env, argv[3], &ttl) != napi_ok || ttl < 0 || ttl > 255) return throwType(env, "ttl must be in [0, 255]");
  if (napi_get_value_bool(env, argv[4], &loop) != napi_ok) return throwType(env, "loop must be a boolean");
  struct in_addr iface, group;
  if (inet_pton(AF_INET, ifaceText, &iface) != 1) return throwErrno(env, "interface is not an IPv4 address", EINVAL);
  if (inet_pton(AF_INET, groupText, &group) != 1) return throwErrno(env, "group is not an IPv4 address", EINVAL);

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
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throwType(env, "send(handle, buffer, stride, lengths, count)");
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->fd < 0) return throwErrno(env, "send on a closed socket", EBADF);

  bool isTyped = false;
  napi_typedarray_type type;
  size_t bufferLength = 0, lengthsLength = 0;
  void* data = NULL;
  void* lengthsData = NULL;
  if (napi_is_typedarray(env, argv[1], &isTyped) != napi_ok || !isTyped) return throwType(env, "buffer must be a Uint8Array");
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &bufferLength, &data, NULL, NULL));
  if (type != napi_uint8_array) return throwType(env, "buffer must be a Uint8Array");
  if (napi_is_typedarray(env, argv[3], &isTyped) != napi_ok || !isTyped) return throwType(env, "lengths must be a Uint32Array");
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &lengthsLength, &lengthsData, NULL, NULL));
  if (type != napi_uint32_array) return throwType(env, "lengths must be a Uint32Array");
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
        if (segments > 0 && (!useGso || length > segment || segments == MAX_GSO_SEGMENTS || total + length > MAX_GSO_BYTES)) break;
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
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throwType(env, "close(handle)");
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->fd >= 0) {
    const int fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0 && errno != EINTR) return throwErrno(env, "close", errno);
  }
  return NULL;
}

static int setNumber(napi_env env, napi_value object, const char* name, double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok && napi_set_named_property(env, object, name, v) == napi_ok;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throwType(env, "stats(handle)");
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  napi_value out, gso;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_get_boolean(env, s->gso != 0, &gso));
  CHECK(napi_set_named_property(env, out, "gso", gso));
  if (!setNumber(env, out, "calls", s->calls) || !setNumber(env, out, "messages", s->messages) ||
      !setNumber(env, out, "gsoMessages", s->gsoMessages) || !setNumber(env, out, "datagrams", s->datagrams) ||
      !setNumber(env, out, "retries", s->retries)) {
    napi_throw_error(env, "ERR_CONDCAST_NATIVE", "stats: N-API call failed");
    return NULL;
  }
  return out;
}

static napi_value SetGso(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool on;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throwType(env, "setGso(handle, on)");
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return throwType(env, "on must be a boolean");
  s->gso = on && s->gsoSupported;
  napi_value result;
  CHECK(napi_get_boolean(env, s->gso != 0, &result));
  return result;
}

static napi_value SetNoChecksum(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throwType(env, "setNoChecksum(handle)");
  Socket* s = getSocket(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->fd < 0) return throwErrno(env, "setNoChecksum on a closed socket", EBADF);
  int on = 1;
  if (setsockopt(s->fd, SOL_SOCKET, SO_NO_CHECK, &on, sizeof on) != 0) return throwErrno(env, "SO_NO_CHECK", errno);
  return NULL;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor properties[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setGso", NULL, SetGso, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNoChecksum", NULL, SetNoChecksum, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}
