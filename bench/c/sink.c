// Raw baseline sink: joins a group, reads with recvmmsg in batches, counts datagrams and bytes (and
// condcast fragments: preamble magic + kind 1) until `count` datagrams arrived or the line has been
// idle for `idle` ms after the first one. Prints {"datagrams":N,"bytes":N,"fragments":N,"seconds":S}
// where seconds runs from the first to the last datagram.
//
//   sink --group G --port P --interface A [--count N] [--idle MS] [--timeout S]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXDG 65536

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *group = "239.255.204.219", *iface = "127.0.0.1";
  int port = 3342, idle_ms = 500;
  long count = -1;
  double timeout = 60;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--interface") && i + 1 < argc) iface = argv[++i];
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
    else if (!strcmp(argv[i], "--idle") && i + 1 < argc) idle_ms = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atof(argv[++i]);
    else { fprintf(stderr, "sink: unknown argument %s\n", argv[i]); return 2; }
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rcvbuf = 64 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  socklen_t len = sizeof rcvbuf;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, group, &addr.sin_addr);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  struct ip_mreq mreq;
  inet_pton(AF_INET, group, &mreq.imr_multiaddr);
  inet_pton(AF_INET, iface, &mreq.imr_interface);
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) { perror("IP_ADD_MEMBERSHIP"); return 1; }
  fprintf(stderr, "{\"event\":\"listening\",\"receiveBufferGranted\":%d}\n", rcvbuf);

  static unsigned char bufs[BATCH][MAXDG];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = MAXDG;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long datagrams = 0, fragments = 0;
  unsigned long long bytes = 0;
  double first = 0, last = 0, start = now();
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  for (;;) {
    int wait = datagrams == 0 ? 100 : idle_ms;
    int ready = poll(&pfd, 1, wait);
    if (ready == 0) {
      if (datagrams > 0) break;
      if (now() - start > timeout) break;
      continue;
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      perror("recvmmsg");
      return 1;
    }
    double t = now();
    if (datagrams == 0) first = t;
    last = t;
    for (int i = 0; i < n; i++) {
      unsigned len_i = msgs[i].msg_len;
      datagrams++;
      bytes += len_i;
      if (len_i >= 8 && bufs[i][0] == 0xcc && bufs[i][1] == 0xdb && bufs[i][2] == 0x63 && bufs[i][3] == 0x63 && bufs[i][5] == 1) fragments++;
    }
    if (count > 0 && datagrams >= count) break;
  }
  printf("{\"datagrams\":%ld,\"bytes\":%llu,\"fragments\":%ld,\"seconds\":%.6f,\"receiveBufferGranted\":%d}\n", datagrams, bytes, fragments, last - first, rcvbuf);
  return 0;
}
