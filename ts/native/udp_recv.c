// condcast native receive path: a UDP multicast socket drained by a native thread with recvmmsg (and
// UDP GRO where the kernel offers it) straight into the SharedArrayBuffer ring the receiver's main
// thread decodes from (ts/src/receiver/socket-worker.ts describes the ring; RingWriter is the same
// writer in TypeScript). No JavaScript runs on the drain path: the thread calls into JavaScript only
// to wake a reader that sleeps on an empty ring, and to report an error it stops on.
// ts/src/receiver/native-recv.ts loads it; without it the receiver drains on a worker thread.
//
// Built by the root Makefile's `ts` target with plain cc (no node-gyp), against Node-API only:
//   cc -O2 -shared -fPIC -pthread -I<node include dir> -o ts/dist/native/udp_recv.node
//      ts/native/udp_recv.c ts/native/napi_util.c
//
// JavaScript interface (every function throws an Error whose message carries the errno text):
//   open(ring, control, group, port, interface, receiveBuffer, groOption, onWake) -> handle
//       ring: Uint8Array over the ring's SharedArrayBuffer, control: Int32Array over the control words'.
//       A socket with SO_REUSEADDR bound to group:port, SO_RCVBUF as requested (the kernel caps it),
//       IP_ADD_MEMBERSHIP on the interface address; groOption: the UDP-level option that turns GRO on
//       (UDP_GRO, 104; 0 = GRO off; a kernel that refuses it leaves GRO off). A thread then receives
//       into the ring. onWake() is called on the JS thread when the thread wrote while the reader slept
//       (CTRL_WAKE was 1); onWake(message) once if the thread stopped on a receive error. Like a
//       socket, an open receiver keeps the event loop alive (its threadsafe function is referenced).
//   rejoin(handle)     IP_DROP_MEMBERSHIP, then IP_ADD_MEMBERSHIP (a fresh membership report)
//   close(handle)      stops and joins the thread, leaves the group, closes the socket; idempotent
//                      (the finalizer and the environment's teardown close too)
//   stats(handle) -> { gro, receiveBuffer, calls, messages, groMessages, datagrams, truncated, wakes,
//                      cpuSeconds (the receive thread's CPU time) }
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
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
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// The ring's layout: socket-worker.ts's constants, which these must match.
#define CTRL_HEAD 0
#define CTRL_TAIL 1
#define CTRL_WAKE 2
#define CTRL_OVERFLOWS 3
#define CTRL_WRITTEN 4
#define CTRL_HIGH_WATER 5
#define CONTROL_WORDS 8
#define RECORD_HEADER 4
#define WRAP_MARKER (-1)
#define MIN_RING_BYTES (256 * 1024)
#define MAX_RING_BYTES (1 << 30)

#define BATCH 64                 // messages per recvmmsg
#define SLOT_BYTES 65536         // one message: the largest UDP payload, or a GRO aggregate (< 64 KiB)
#define RETRY_WAIT_NS 1000000    // ENOMEM / ENOBUFS: wait 1 ms, then receive again

typedef struct {
  int fd;
  struct in_addr group, iface;
  int gro;
  double receiveBuffer;  // what getsockopt(SO_RCVBUF) reports

  // The ring (shared with the JS thread) and this writer's own head.
  uint8_t* ring;
  int32_t* control;
  uint32_t capacity;
  uint32_t head;
  napi_ref ringRef, controlRef;  // keep the SharedArrayBuffers alive while the thread writes

  napi_threadsafe_function onWake;
  pthread_t thread;
  int running;  // the thread was started and not yet joined
  int stop;     // set (atomically) by the JS thread; the thread ends at its next look
  int hooked;   // the environment cleanup hook is registered

  // Counters, written by the thread only (read with atomic loads).
  uint64_t calls, messages, groMessages, datagrams, truncated, wakes;
  double cpuSeconds;  // the thread's CPU time once it has ended

  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  unsigned char cmsg[BATCH][CMSG_SPACE(sizeof(int))];
  uint8_t* slots;  // BATCH * SLOT_BYTES
} Receiver;

static void count(uint64_t* counter, uint64_t n) {
  __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

// ---------------------------------------------------------------------------------------------------
// The ring writer (RingWriter.write and RingWriter.wake of socket-worker.ts)

static int overflow(int32_t* control) {
  __atomic_add_fetch(&control[CTRL_OVERFLOWS], 1, __ATOMIC_SEQ_CST);
  return 0;
}

// Copies one datagram in; 0 when the ring is full (the datagram is dropped and counted).
static int ringWrite(Receiver* r, const uint8_t* datagram, uint32_t length) {
  int32_t* control = r->control;
  const uint32_t size = (RECORD_HEADER + length + 3) & ~3u;
  const uint32_t capacity = r->capacity;
  const uint32_t tail = (uint32_t)__atomic_load_n(&control[CTRL_TAIL], __ATOMIC_SEQ_CST);
  uint32_t head = r->head;
  uint32_t at;
  const int32_t marker = WRAP_MARKER;
  if (head >= tail) {
    // Free: [head, capacity) and [0, tail). The ring must not become full (head == tail is empty).
    if (head + size < capacity || (head + size == capacity && tail > 0)) {
      at = head;
    } else if (size < tail) {
      memcpy(r->ring + head, &marker, sizeof marker);
      at = 0;
    } else {
      return overflow(control);
    }
  } else if (head + size < tail) {
    at = head;
  } else {
    return overflow(control);
  }
  const int32_t recorded = (int32_t)length;
  memcpy(r->ring + at, &recorded, sizeof recorded);
  memcpy(r->ring + at + RECORD_HEADER, datagram, length);
  head = at + size;
  if (head == capacity) head = 0;
  r->head = head;
  // The store publishes the record to the reader's Atomics.load (both sequentially consistent).
  __atomic_store_n(&control[CTRL_HEAD], (int32_t)head, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&control[CTRL_WRITTEN], 1, __ATOMIC_SEQ_CST);
  const int32_t used = (int32_t)(head >= tail ? head - tail : capacity - tail + head);
  if (used > __atomic_load_n(&control[CTRL_HIGH_WATER], __ATOMIC_SEQ_CST)) __atomic_store_n(&control[CTRL_HIGH_WATER], used, __ATOMIC_SEQ_CST);
  return 1;
}

// Wakes the reader if it sleeps on CTRL_WAKE. A futex wake would not reach a JavaScript
// Atomics.waitAsync (V8 keeps its own waiter list), so the wake is a call of onWake on the JS thread;
// while the reader is awake this costs two loads and no N-API call.
static void ringWake(Receiver* r) {
  int32_t* wake = &r->control[CTRL_WAKE];
  int32_t expected = 1;
  if (__atomic_load_n(wake, __ATOMIC_SEQ_CST) != 0 &&
      __atomic_compare_exchange_n(wake, &expected, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    count(&r->wakes, 1);
    napi_call_threadsafe_function(r->onWake, NULL, napi_tsfn_nonblocking);
  }
}

// ---------------------------------------------------------------------------------------------------
// The receiving thread

// GRO's segment size of a received message, or 0 when it holds one datagram.
static uint32_t groSegment(struct msghdr* h) {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int segment;
      memcpy(&segment, CMSG_DATA(c), sizeof segment);
      return segment > 0 ? (uint32_t)segment : 0;
    }
  }
  return 0;
}

// Each message into the ring: one record per datagram, a GRO aggregate cut into its segments (all of
// the segment size but the last, which may be shorter).
static void publish(Receiver* r, int received) {
  uint64_t datagrams = 0, groMessages = 0, truncated = 0;
  for (int i = 0; i < received; i++) {
    struct mmsghdr* m = &r->msgs[i];
    if (m->msg_hdr.msg_flags & MSG_TRUNC) {
      truncated++;
      continue;
    }
    const uint8_t* data = r->slots + (size_t)i * SLOT_BYTES;
    const uint32_t length = m->msg_len;
    const uint32_t segment = r->gro ? groSegment(&m->msg_hdr) : 0;
    if (segment == 0 || segment >= length) {
      ringWrite(r, data, length);
      datagrams++;
      continue;
    }
    groMessages++;
    for (uint32_t at = 0; at < length; at += segment) {
      ringWrite(r, data + at, length - at < segment ? length - at : segment);
      datagrams++;
    }
  }
  count(&r->datagrams, datagrams);
  count(&r->groMessages, groMessages);
  count(&r->truncated, truncated);
}

static double cpuSeconds(clockid_t clock) {
  struct timespec t;
  return clock_gettime(clock, &t) == 0 ? (double)t.tv_sec + (double)t.tv_nsec / 1e9 : 0;
}

static void* run(void* arg) {
  Receiver* r = arg;
  int error = 0;
  while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
    for (int i = 0; i < BATCH; i++) {
      struct msghdr* h = &r->msgs[i].msg_hdr;
      h->msg_controllen = r->gro ? sizeof r->cmsg[i] : 0;
      h->msg_flags = 0;
    }
    // Blocks for the first datagram, then takes what is queued; close() ends the wait with shutdown().
    const int received = recvmmsg(r->fd, r->msgs, BATCH, MSG_WAITFORONE, NULL);
    if (__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) break;
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ENOMEM || errno == ENOBUFS) {
        struct timespec t = {0, RETRY_WAIT_NS};
        nanosleep(&t, NULL);
        continue;
      }
      error = errno;
      break;
    }
    count(&r->calls, 1);
    count(&r->messages, (uint64_t)received);
    publish(r, received);
    // Also after an overflow: the reader must come and make room.
    ringWake(r);
  }
  if (error != 0) napi_call_threadsafe_function(r->onWake, (void*)(intptr_t)error, napi_tsfn_nonblocking);
  r->cpuSeconds = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);  // read after pthread_join
  return NULL;
}

// On the JS thread: onWake() for a wake, onWake(message) for the error the thread stopped on.
static void callOnWake(napi_env env, napi_value callback, void* context, void* data) {
  (void)context;
  if (env == NULL || callback == NULL) return;  // torn down
  const int error = (int)(intptr_t)data;
  napi_value undefined, argv[1];
  size_t argc = 0;
  if (napi_get_undefined(env, &undefined) != napi_ok) return;
  if (error != 0) {
    char message[320];
    errnoMessage(message, sizeof message, "recvmmsg (the receive thread stopped)", error);
    if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[0]) != napi_ok) return;
    argc = 1;
  }
  napi_call_function(env, undefined, callback, argc, argv, NULL);
}

// ---------------------------------------------------------------------------------------------------
// Stopping and freeing

static int membership(Receiver* r, int option) {
  struct ip_mreq m = {.imr_multiaddr = r->group, .imr_interface = r->iface};
  return setsockopt(r->fd, IPPROTO_IP, option, &m, sizeof m);
}

// Ends the thread and closes the socket; needs no napi_env (the environment's teardown calls it).
static void stopReceiver(Receiver* r) {
  if (r->running) {
    __atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
    (void)shutdown(r->fd, SHUT_RDWR);  // ENOTCONN on an unconnected socket, but it wakes recvmmsg
    pthread_join(r->thread, NULL);
    r->running = 0;
  }
  if (r->fd >= 0) {
    (void)membership(r, IP_DROP_MEMBERSHIP);
    close(r->fd);
    r->fd = -1;
  }
  if (r->onWake != NULL) {
    napi_release_threadsafe_function(r->onWake, napi_tsfn_abort);
    r->onWake = NULL;
  }
  free(r->slots);
  r->slots = NULL;
}

static void teardown(void* data) {
  stopReceiver(data);
}

// Stops, and lets go of the ring's buffers and the cleanup hook (on the JS thread).
static void closeReceiver(napi_env env, Receiver* r) {
  stopReceiver(r);
  if (r->ringRef != NULL) napi_delete_reference(env, r->ringRef);
  if (r->controlRef != NULL) napi_delete_reference(env, r->controlRef);
  r->ringRef = r->controlRef = NULL;
  if (r->hooked) napi_remove_env_cleanup_hook(env, teardown, r);
  r->hooked = 0;
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  closeReceiver(env, data);
  free(data);
}

// ---------------------------------------------------------------------------------------------------
// open(ring, control, group, port, interface, receiveBuffer, groOption, onWake)

// The bytes of a typed array of the given type over a SharedArrayBuffer (Node-API hands a
// SharedArrayBuffer out as an array buffer for which napi_is_arraybuffer is false), or NULL.
static void* sharedBytes(napi_env env, napi_value value, napi_typedarray_type type, size_t* bytes) {
  void* data = NULL;
  size_t length = 0;
  napi_value buffer;
  bool isArrayBuffer = true;
  if (!getTypedArray(env, value, type, &data, &length, &buffer) ||
      napi_is_arraybuffer(env, buffer, &isArrayBuffer) != napi_ok || isArrayBuffer || data == NULL) {
    return NULL;
  }
  *bytes = type == napi_int32_array ? length * 4 : length;
  return data;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!getArguments(env, info, argv, 8, "open(ring, control, group, port, interface, receiveBuffer, groOption, onWake)")) return NULL;
  size_t ringBytes = 0, controlBytes = 0;
  void* ring = sharedBytes(env, argv[0], napi_uint8_array, &ringBytes);
  void* control = sharedBytes(env, argv[1], napi_int32_array, &controlBytes);
  if (ring == NULL || ringBytes % 4 != 0 || ringBytes < MIN_RING_BYTES || ringBytes > MAX_RING_BYTES) {
    return throwType(env, "ring must be a Uint8Array over a SharedArrayBuffer of 256 KiB to 1 GiB, a multiple of 4");
  }
  if (control == NULL || controlBytes < CONTROL_WORDS * 4) return throwType(env, "control must be an Int32Array of 8 words over a SharedArrayBuffer");
  int32_t port, receiveBuffer, groOption;
  napi_valuetype callbackType;
  struct in_addr group, iface;
  if (!getAddress(env, argv[2], "group", &group) || !getAddress(env, argv[4], "interface", &iface)) return NULL;
  if (napi_get_value_int32(env, argv[3], &port) != napi_ok || port < 0 || port > 65535) return throwType(env, "port must be in [0, 65535]");
  if (napi_get_value_int32(env, argv[5], &receiveBuffer) != napi_ok || receiveBuffer < 0) return throwType(env, "receiveBuffer must be a non-negative int32");
  if (napi_get_value_int32(env, argv[6], &groOption) != napi_ok || groOption < 0) return throwType(env, "groOption must be a non-negative int32");
  if (napi_typeof(env, argv[7], &callbackType) != napi_ok || callbackType != napi_function) return throwType(env, "onWake must be a function");

  Receiver* r = calloc(1, sizeof *r);
  uint8_t* slots = malloc((size_t)BATCH * SLOT_BYTES);
  if (r == NULL || slots == NULL) {
    free(r);
    free(slots);
    return throwErrno(env, "open", ENOMEM);
  }
  r->group = group;
  r->iface = iface;
  r->ring = ring;
  r->control = control;
  r->capacity = (uint32_t)ringBytes;
  r->head = (uint32_t)__atomic_load_n(&r->control[CTRL_HEAD], __ATOMIC_SEQ_CST);
  r->slots = slots;
  for (int i = 0; i < BATCH; i++) {
    r->iov[i].iov_base = slots + (size_t)i * SLOT_BYTES;
    r->iov[i].iov_len = SLOT_BYTES;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_control = r->cmsg[i];
  }
  r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char* step = r->fd < 0 ? "socket" : NULL;
  const int on = 1;
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr = group, .sin_port = htons((uint16_t)port)};
  // Binding to the group address keeps other traffic to the port out of this socket.
  if (step == NULL && setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) step = "SO_REUSEADDR";
  if (step == NULL && receiveBuffer > 0 && setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer) != 0) step = "SO_RCVBUF";
  if (step == NULL && bind(r->fd, (const struct sockaddr*)&local, sizeof local) != 0) step = "bind";
  if (step == NULL && membership(r, IP_ADD_MEMBERSHIP) != 0) step = "IP_ADD_MEMBERSHIP";
  if (step != NULL) {
    const int error = errno;
    char what[192];
    char ifaceText[INET_ADDRSTRLEN], groupText[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &iface, ifaceText, sizeof ifaceText);
    inet_ntop(AF_INET, &group, groupText, sizeof groupText);
    snprintf(what, sizeof what, "%s %s:%d on %s", step, groupText, port, ifaceText);
    stopReceiver(r);
    free(r);
    return throwErrno(env, what, error);
  }
  // GRO: off when not asked for or when the kernel does not know the option.
  r->gro = groOption != 0 && setsockopt(r->fd, SOL_UDP, groOption, &on, sizeof on) == 0;
  int granted = 0;
  socklen_t grantedLength = sizeof granted;
  if (getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &granted, &grantedLength) == 0) r->receiveBuffer = granted;

  napi_value name, handle;
  const char* failed = NULL;
  if (napi_create_string_utf8(env, "condcast-recv", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[7], NULL, name, 0, 1, NULL, NULL, NULL, callOnWake, &r->onWake) != napi_ok) {
    failed = "napi_create_threadsafe_function failed";
  } else if (napi_create_reference(env, argv[0], 1, &r->ringRef) != napi_ok ||
             napi_create_reference(env, argv[1], 1, &r->controlRef) != napi_ok ||
             napi_create_external(env, r, finalize, NULL, &handle) != napi_ok) {
    failed = "N-API call failed in open()";
  }
  if (failed != NULL) {
    closeReceiver(env, r);
    free(r);
    napi_throw_error(env, "ERR_CONDCAST_NATIVE", failed);
    return NULL;
  }
  // From here the finalizer owns r. Registered after the threadsafe function's own teardown, so it runs
  // before it: the thread is gone before the function is.
  if (napi_add_env_cleanup_hook(env, teardown, r) == napi_ok) r->hooked = 1;
  const int error = pthread_create(&r->thread, NULL, run, r);
  if (error != 0) {
    closeReceiver(env, r);
    return throwErrno(env, "pthread_create", error);
  }
  r->running = 1;
  return handle;
}

// ---------------------------------------------------------------------------------------------------
// rejoin, close, stats

static napi_value Rejoin(napi_env env, napi_callback_info info) {
  Receiver* r = handleArgument(env, info, "rejoin(handle)");
  if (r == NULL) return NULL;
  if (r->fd < 0) return throwErrno(env, "rejoin on a closed receiver", EBADF);
  (void)membership(r, IP_DROP_MEMBERSHIP);  // not a member (any more): joining is what matters
  if (membership(r, IP_ADD_MEMBERSHIP) != 0) return throwErrno(env, "IP_ADD_MEMBERSHIP", errno);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  Receiver* r = handleArgument(env, info, "close(handle)");
  if (r != NULL) closeReceiver(env, r);
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  Receiver* r = handleArgument(env, info, "stats(handle)");
  if (r == NULL) return NULL;
  clockid_t clock;
  const double cpu = r->running && pthread_getcpuclockid(r->thread, &clock) == 0 ? cpuSeconds(clock) : r->cpuSeconds;
  napi_value out;
  CHECK(napi_create_object(env, &out));
  if (!setBoolean(env, out, "gro", r->gro) || !setNumber(env, out, "receiveBuffer", r->receiveBuffer) ||
      !setNumber(env, out, "calls", (double)__atomic_load_n(&r->calls, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "messages", (double)__atomic_load_n(&r->messages, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "groMessages", (double)__atomic_load_n(&r->groMessages, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "datagrams", (double)__atomic_load_n(&r->datagrams, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "truncated", (double)__atomic_load_n(&r->truncated, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "wakes", (double)__atomic_load_n(&r->wakes, __ATOMIC_RELAXED)) ||
      !setNumber(env, out, "cpuSeconds", cpu)) {
    napi_throw_error(env, "ERR_CONDCAST_NATIVE", "stats: N-API call failed");
    return NULL;
  }
  return out;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      NAPI_FUNCTION("open", Open), NAPI_FUNCTION("rejoin", Rejoin), NAPI_FUNCTION("close", Close), NAPI_FUNCTION("stats", Stats),
  };
  return defineFunctions(env, exports, functions, sizeof functions / sizeof functions[0]);
}
