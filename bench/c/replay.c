// Paced replay of pre-encoded condcast datagrams, for measuring receivers. The input file holds
// records [u32 BE length][u32 BE object-id offset][datagram]; every pass over the file patches the
// last two bytes of each object id with the pass number, so each pass delivers new objects.
// With --gso, runs of equal-length datagrams (the last of a run may be shorter) go out as one UDP GSO
// message each (UDP_SEGMENT as a control message, up to GSO_SEGMENTS and 64 KiB), as raw-send --gso
// does, so the replay is not the ceiling of what it measures. Prints
// {"datagrams":N,"bytes":N,"seconds":S,"messages":N}.
//
//   replay --file F --group G --port P --interface A --passes N --rate BYTES_PER_S [--gso]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/udp.h>
#include <time.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BATCH 32
#define GSO_SEGMENTS 40 /* as raw-send: 40 x 1472 < 64 KiB */
#define GSO_BYTES 65000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int main(int argc, char **argv) {
  const char *file = NULL, *group = "239.255.204.219", *iface = "127.0.0.1";
  int port = 3342;
  long passes = 1;
  double rate = 0;
  int gso = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--file") && i + 1 < argc) file = argv[++i];
    else if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--interface") && i + 1 < argc) iface = argv[++i];
    else if (!strcmp(argv[i], "--passes") && i + 1 < argc) passes = atol(argv[++i]);
    else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atof(argv[++i]);
    else if (!strcmp(argv[i], "--gso")) gso = 1;
    else { fprintf(stderr, "replay: unknown argument %s\n", argv[i]); return 2; }
  }
  if (!file) { fprintf(stderr, "replay: --file is required\n"); return 2; }
  FILE *f = fopen(file, "rb");
  if (!f) { perror(file); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(size);
  if (fread(data, 1, size, f) != (size_t)size) { perror("fread"); return 1; }
  fclose(f);
  long records = 0;
  for (long at = 0; at + 8 <= size; at += 8 + be32(data + at)) records++;
  unsigned char **dg = malloc(records * sizeof *dg);
  uint32_t *lens = malloc(records * sizeof *lens), *idoff = malloc(records * sizeof *idoff);
  long r = 0;
  for (long at = 0; at + 8 <= size; at += 8 + be32(data + at), r++) {
    lens[r] = be32(data + at);
    idoff[r] = be32(data + at + 4);
    dg[r] = data + at + 8;
  }

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct in_addr ifaddr;
  inet_pton(AF_INET, iface, &ifaddr);
  unsigned char ttl = 1;
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, group, &dst.sin_addr);
  // One message carries up to GSO_SEGMENTS datagrams (one without --gso), each its own iovec entry.
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH][GSO_SEGMENTS];
  static union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_iov = iov[i];
    msgs[i].msg_hdr.msg_name = &dst;
    msgs[i].msg_hdr.msg_namelen = sizeof dst;
  }
  unsigned long long bytes = 0, datagrams = 0, messages = 0;
  double start = now();
  for (long pass = 0; pass < passes; pass++) {
    for (long i = 0; i < records; i++) {
      dg[i][idoff[i] + 14] = (unsigned char)(pass >> 8);
      dg[i][idoff[i] + 15] = (unsigned char)pass;
    }
    for (long i = 0; i < records;) {
      int n = 0;
      long next = i;
      unsigned long long batchBytes[BATCH];
      int batchCount[BATCH];
      for (; n < BATCH && next < records; n++) {
        uint32_t segment = lens[next];
        int k = 0;
        size_t total = 0;
        // A run: equal lengths, or one shorter datagram that ends it (the kernel's GSO rule).
        while (next < records && k < (gso ? GSO_SEGMENTS : 1) && total + lens[next] <= GSO_BYTES && lens[next] <= segment) {
          iov[n][k].iov_base = dg[next];
          iov[n][k].iov_len = lens[next];
          total += lens[next];
          k++;
          next++;
          if (lens[next - 1] < segment) break;
        }
        msgs[n].msg_hdr.msg_iovlen = k;
        if (k > 1) {
          msgs[n].msg_hdr.msg_control = control[n].buf;
          msgs[n].msg_hdr.msg_controllen = sizeof control[n].buf;
          struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[n].msg_hdr);
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          uint16_t size16 = (uint16_t)segment;
          memcpy(CMSG_DATA(cm), &size16, sizeof size16);
        } else {
          msgs[n].msg_hdr.msg_control = NULL;
          msgs[n].msg_hdr.msg_controllen = 0;
        }
        batchBytes[n] = total;
        batchCount[n] = k;
      }
      int done = sendmmsg(fd, msgs, n, 0);
      if (done < 0) {
        if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) continue;
        perror("sendmmsg");
        return 1;
      }
      for (int m = 0; m < done; m++) {
        bytes += batchBytes[m];
        datagrams += batchCount[m];
        i += batchCount[m];
      }
      messages += done;
      if (rate > 0) {
        double due = start + bytes / rate, t = now();
        if (due > t) {
          struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
          nanosleep(&ts, NULL);
        }
      }
    }
  }
  printf("{\"datagrams\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"messages\":%llu}\n", datagrams, bytes, now() - start, messages);
  return 0;
}
