// The floor of any front door that passes segments on: a bare TCP proxy on loopback, no HTTP,
// no checks, a blocking thread per direction. e2e/bench/hub.sh runs it beside the hub, in
// front of the same library server, so the hub's ratio can be read against what proxying alone
// costs on this machine.
//
//   proxy PORT UPSTREAM_PORT copy     read/write through a 256 KiB buffer (two copies per byte)
//   proxy PORT UPSTREAM_PORT splice   splice(2) socket -> pipe -> socket (no user-space copy)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER = 256 * 1024, PIPE = 1 << 20 };

static int use_splice;

// One connection's two sockets, closed by the second direction to finish.
struct conn {
  int client, upstream, running;
};

struct pair {
  struct conn *conn;
  int from, to;
};

static void pump_copy(int from, int to) {
  char *buf = malloc(BUFFER);
  ssize_t n;
  while (buf && (n = read(from, buf, BUFFER)) > 0) {
    for (ssize_t done = 0; done < n;) {
      ssize_t m = write(to, buf + done, n - done);
      if (m <= 0) goto out;
      done += m;
    }
  }
out:
  free(buf);
}

static void pump_splice(int from, int to) {
  int p[2];
  if (pipe(p)) return;
  fcntl(p[1], F_SETPIPE_SZ, PIPE);
  ssize_t n;
  while ((n = splice(from, NULL, p[1], NULL, PIPE, SPLICE_F_MOVE)) > 0) {
    while (n > 0) {
      ssize_t m = splice(p[0], NULL, to, NULL, n, SPLICE_F_MOVE);
      if (m <= 0) goto out;
      n -= m;
    }
  }
out:
  close(p[0]);
  close(p[1]);
}

static void *pump(void *arg) {
  struct pair p = *(struct pair *)arg;
  free(arg);
  if (use_splice) pump_splice(p.from, p.to);
  else pump_copy(p.from, p.to);
  shutdown(p.to, SHUT_WR);
  shutdown(p.from, SHUT_RD);
  if (__atomic_sub_fetch(&p.conn->running, 1, __ATOMIC_ACQ_REL) == 0) {
    close(p.conn->client);
    close(p.conn->upstream);
    free(p.conn);
  }
  return NULL;
}

static void start(struct conn *conn, int from, int to) {
  struct pair *p = malloc(sizeof *p);
  pthread_t t;
  *p = (struct pair){.conn = conn, .from = from, .to = to};
  if (pthread_create(&t, NULL, pump, p) == 0) pthread_detach(t);
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[3], "copy") && strcmp(argv[3], "splice"))) {
    fprintf(stderr, "usage: proxy PORT UPSTREAM_PORT copy|splice\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  use_splice = strcmp(argv[3], "splice") == 0;
  int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in here = loopback(atoi(argv[1])), there = loopback(atoi(argv[2]));
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&here, sizeof here) || listen(s, 128)) {
    perror("proxy: listen");
    return 1;
  }
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    int u = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(u, (struct sockaddr *)&there, sizeof there)) {
      close(c);
      close(u);
      continue;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *conn = malloc(sizeof *conn);
    *conn = (struct conn){.client = c, .upstream = u, .running = 2};
    start(conn, c, u);
    start(conn, u, c);
  }
}
