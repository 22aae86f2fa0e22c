// Raw baseline sender: the physical limit of this kernel and link for a datagram size. Sends `count`
// datagrams of `size` bytes to a multicast group as fast as sendmmsg (or UDP GSO) allows, optionally
// paced, and prints one JSON line: {"datagrams":N,"bytes":N,"seconds":S}.
//
//   raw-send --group G --port P --interface A --size N --count N [--gso] [--rate BYTES_PER_S]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BATCH 64
#define GSO_SEGMENTS 40 /* 40 x 1472 < 64 KiB */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pace(double start, double rate, unsigned long long bytes) {
  if (rate <= 0) return;
  double due = start + bytes / rate;
  double t = now();
  if (due > t) {
    struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char **argv) {
  const char *group = "239.255.204.219", *iface = "127.0.0.1";
  int port = 3342, size = 1472, gso = 0;
  long count = 100000;
  double rate = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--interface") && i + 1 < argc) iface = argv[++i];
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
    else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atof(argv[++i]);
    else if (!strcmp(argv[i], "--gso")) gso = 1;
    else { fprintf(stderr, "raw-send: unknown argument %s\n", argv[i]); return 2; }
  }
  if (size < 1 || size > 65507) { fprintf(stderr, "raw-send: bad --size\n"); return 2; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct in_addr ifaddr;
  inet_pton(AF_INET, iface, &ifaddr);
  unsigned char ttl = 1;
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, group, &dst.sin_addr);

  int segments = gso ? (65000 / size < GSO_SEGMENTS ? 65000 / size : GSO_SEGMENTS) : 1;
  if (segments < 1) segments = 1;
  if (gso && segments > 1) {
    int seg = size;
    if (setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0) {
      fprintf(stderr, "raw-send: UDP_SEGMENT unavailable (%s)\n", strerror(errno));
      return 3;
    }
  }
  size_t msglen = (size_t)size * segments;
  unsigned char *buf = malloc(msglen * BATCH);
  memset(buf, 0xab, msglen * BATCH);
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = buf + i * msglen;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &dst;
    msgs[i].msg_hdr.msg_namelen = sizeof dst;
  }
  long sent = 0;
  unsigned long long bytes = 0;
  double start = now();
  while (sent < count) {
    int n = 0;
    long left = count - sent;
    for (; n < BATCH && left > 0; n++) {
      long d = left < segments ? left : segments;
      iov[n].iov_len = (size_t)d * size;
      left -= d;
    }
    int done = sendmmsg(fd, msgs, n, 0);
    if (done < 0) {
      if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) continue;
      perror("sendmmsg");
      return 1;
    }
    for (int i = 0; i < done; i++) {
      sent += iov[i].iov_len / size;
      bytes += iov[i].iov_len;
    }
    pace(start, rate, bytes);
  }
  double seconds = now() - start;
  printf("{\"datagrams\":%ld,\"bytes\":%llu,\"seconds\":%.6f,\"gsoSegments\":%d}\n", sent, bytes, seconds, segments);
  return 0;
}
