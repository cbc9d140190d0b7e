/*
 * Open-loop HTTP/1.1 load at a fixed rate, for bench/forward-auth.ts (the `fixed` job).
 *
 * Why C: on a 2-core machine the server under test gets one core and the load generator the other.
 * The Node generator (forward-auth-load.ts) spins its event loop to release requests on time, so it
 * takes its whole core and the kernel's loopback work competes with the server; its own scheduling
 * then shows up in the tail it measures. This one sleeps until the next request is due (with
 * nanosecond timeouts, epoll_pwait2) and spends a few microseconds per request.
 *
 * Same semantics as the Node generator: request n is due at start + n/rate; its latency runs from
 * when it was due to the end of its answer (no coordinated omission); no pipelining (one request at
 * a time per connection); kept-alive connections up to max_sockets, the most recently used first,
 * or a new TCP connection per request (`Connection: close`); a request not answered 10 s after it
 * was due is an error. Loopback only: the address must be 127.x.y.z.
 *
 * Usage: fixed-rate HOST PORT RATE SECONDS KEEPALIVE(0|1) MAX_SOCKETS [WARMUP_SECONDS] < requests
 *   WARMUP_SECONDS (default 0) of the same load run first and are not counted: the server's new
 *   connections and first requests at this rate are not what a steady rate costs.
 *   stdin: one or more requests, each as "<length>\n<bytes>"; request n sends variant n % count.
 * Prints one JSON line: requests, seconds, rate, statuses, errors, p50, p99, p999, max (ms, 2xx only).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_NS 10000000000LL
#define DRAIN_NS (REQUEST_TIMEOUT_NS + 2000000000LL)
#define READ_CAP 65536
#define MAX_VARIANTS 4096
#define SOURCE_ADDRESSES 64

enum { FREE, CONNECTING, BUSY, IDLE };

typedef struct {
  int fd;
  int state;
  int64_t due; /* ns; -1 when no request is in flight */
  long n;      /* the request in flight */
  size_t out_off;
  size_t in_len;
  char in[READ_CAP];
} conn_t;

static struct sockaddr_in addr;
static char **variants;
static size_t *variant_len;
static long variant_count;
static int keep_alive;
static long max_sockets;
static int ep;
static conn_t *conns;
static long *idle_stack;
static long idle_top;
static long *free_stack;
static long free_top;
static long open_count;
static double *latencies;
/* How late each request was written (ms after it was due): the generator's own share of a latency. */
static double *send_delays;
static long sent_count;
static long ok_count, done_count, error_count, planned, released, dispatched;
/* Requests below this number belong to the warm-up: sent and answered, not counted. */
static long warm_n;
static long statuses[600];
static int64_t start_ns, rate_per_s;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Due time of request n: start + n * 1e9 / rate, without drift. */
static int64_t due_at(long n) { return start_ns + (int64_t)((__int128)n * 1000000000LL / rate_per_s); }

static void failed(void) {
  error_count++;
  done_count++;
}

static void release_conn(long i) {
  conn_t *c = &conns[i];
  if (c->fd >= 0) close(c->fd); /* close also removes it from the epoll set */
  c->fd = -1;
  c->state = FREE;
  c->due = -1;
  open_count--;
  free_stack[free_top++] = i;
}

static void conn_fail(long i) {
  if (conns[i].due >= 0) failed();
  release_conn(i);
}

static int write_request(long i) {
  conn_t *c = &conns[i];
  if (c->out_off == 0 && c->n >= warm_n && sent_count < planned) send_delays[sent_count++] = (double)(now_ns() - c->due) / 1e6;
  const char *bytes = variants[c->n % variant_count];
  size_t len = variant_len[c->n % variant_count];
  while (c->out_off < len) {
    ssize_t w = write(c->fd, bytes + c->out_off, len - c->out_off);
    if (w < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
      }
      return -1;
    }
    c->out_off += (size_t)w;
  }
  return 0;
}

static void send_on(long i, long n) {
  conn_t *c = &conns[i];
  c->n = n;
  c->due = due_at(n);
  c->out_off = 0;
  c->in_len = 0;
  c->state = BUSY;
  if (write_request(i) < 0) conn_fail(i);
}

/* A new connection carrying request n; -1 when none can be made now. */
static long open_conn(long n) {
  if (open_count >= max_sockets || free_top == 0) return -1;
  long i = free_stack[--free_top];
  conn_t *c = &conns[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    free_stack[free_top++] = i;
    return -1;
  }
  open_count++;
  int one = 1;
  if (keep_alive) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  else {
    /* A new connection per request leaves one TIME_WAIT per request (the server closes first). A run
     * makes more of them than there are ephemeral ports, and connects to a 4-tuple still in TIME_WAIT
     * stall (a SYN answered late, or retried after a second): the benchmark's own artifact, not the
     * server's. Spreading the source over 127.0.0.1-127.0.0.64 (all loopback) gives 64 times the tuples. */
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 0};
    from.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(1 + (n % SOURCE_ADDRESSES)));
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0) {
      close(c->fd);
      c->fd = -1;
      open_count--;
      free_stack[free_top++] = i;
      return -1;
    }
  }
  c->n = n;
  c->due = due_at(n);
  c->out_off = 0;
  c->in_len = 0;
  c->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)i};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) conn_fail(i);
  return i;
}

static void pump(void) {
  while (dispatched < released) {
    if (idle_top > 0) {
      long i = idle_stack[--idle_top];
      send_on(i, dispatched++);
    } else if (open_conn(dispatched) >= 0) {
      dispatched++;
    } else {
      return;
    }
  }
}

/* Case-insensitive search for a header line "\r\nname:" in [head, head+len); returns the value's start or NULL. */
static const char *header(const char *head, size_t len, const char *name) {
  size_t nl = strlen(name);
  for (size_t at = 0; at + 2 + nl + 1 <= len; at++) {
    if (head[at] == '\r' && head[at + 1] == '\n' && strncasecmp(head + at + 2, name, nl) == 0 && head[at + 2 + nl] == ':') return head + at + 3 + nl;
  }
  return NULL;
}

/* The end of a chunked body starting at `from`, or -1 (incomplete) / -2 (malformed). */
static long chunked_end(const char *buf, size_t len, size_t from) {
  size_t at = from;
  for (;;) {
    const char *line_end = memmem(buf + at, len - at, "\r\n", 2);
    if (!line_end) return -1;
    char *stop;
    long size = strtol(buf + at, &stop, 16);
    if (stop == buf + at || size < 0) return -2;
    at = (size_t)(line_end - buf) + 2;
    if (size == 0) {
      for (;;) {
        const char *end = memmem(buf + at, len - at, "\r\n", 2);
        if (!end) return -1;
        if (end == buf + at) return (long)(at + 2);
        at = (size_t)(end - buf) + 2;
      }
    }
    at += (size_t)size + 2;
    if (at > len) return -1;
  }
}

/* One answer at the start of the connection's buffer: its length, -1 incomplete, -2 malformed. */
static long parse_answer(conn_t *c, int *status, int *close_after) {
  const char *buf = c->in;
  size_t len = c->in_len;
  const char *head_end = memmem(buf, len, "\r\n\r\n", 4);
  if (!head_end) return len >= READ_CAP ? -2 : -1;
  size_t head_len = (size_t)(head_end - buf);
  if (head_len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -2;
  int s = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  if (s < 100 || s > 599) return -2;
  *status = s;
  const char *conn_value = header(buf, head_len, "connection");
  *close_after = conn_value != NULL && strncasecmp(conn_value + strspn(conn_value, " "), "close", 5) == 0;
  if (buf[7] == '0' && !(conn_value && strncasecmp(conn_value + strspn(conn_value, " "), "keep-alive", 10) == 0)) *close_after = 1;
  size_t body = head_len + 4;
  if (s < 200 || s == 204 || s == 304) return (long)body;
  const char *te = header(buf, head_len, "transfer-encoding");
  if (te && strncasecmp(te + strspn(te, " "), "chunked", 7) == 0) return chunked_end(buf, len, body);
  const char *cl = header(buf, head_len, "content-length");
  if (!cl) return -2; /* our servers always send a length; a body until close is not expected */
  long length = strtol(cl, NULL, 10);
  if (length < 0) return -2;
  return body + (size_t)length <= len ? (long)(body + (size_t)length) : -1;
}

static void on_readable(long i) {
  conn_t *c = &conns[i];
  for (;;) {
    if (c->in_len >= READ_CAP) return conn_fail(i);
    ssize_t r = read(c->fd, c->in + c->in_len, READ_CAP - c->in_len);
    if (r < 0) {
      if (errno == EAGAIN) return;
      return conn_fail(i);
    }
    if (r == 0) return conn_fail(i); /* closed before a whole answer */
    c->in_len += (size_t)r;
    int status = 0, close_after = 0;
    long end;
    while ((end = parse_answer(c, &status, &close_after)) >= 0 && status < 200) {
      memmove(c->in, c->in + end, c->in_len - (size_t)end); /* 1xx: the real answer follows */
      c->in_len -= (size_t)end;
    }
    if (end == -2 || c->due < 0) return conn_fail(i);
    if (end == -1) continue;
    if (c->n >= warm_n) {
      statuses[status]++;
      if (status >= 200 && status < 300) latencies[ok_count++] = (double)(now_ns() - c->due) / 1e6;
    }
    done_count++;
    c->due = -1;
    if (close_after || !keep_alive || (size_t)end < c->in_len) return release_conn(i);
    c->in_len = 0;
    c->state = IDLE;
    if (dispatched < released) send_on(i, dispatched++);
    else idle_stack[idle_top++] = i;
    return;
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The p-th percentile of sorted values, or -1 for none. */
static double pct(const double *sorted, long count, double p) {
  if (count == 0) return -1;
  long k = (long)(p * (double)count + 0.999999) - 1;
  if (k < 0) k = 0;
  if (k >= count) k = count - 1;
  return sorted[k];
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: fixed-rate HOST PORT RATE SECONDS KEEPALIVE MAX_SOCKETS [WARMUP_SECONDS] < requests\n");
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1 || (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "fixed-rate: only a 127.x.y.z address, got %s\n", argv[1]);
    return 2;
  }
  double rate = atof(argv[3]), seconds = atof(argv[4]);
  keep_alive = atoi(argv[5]) != 0;
  max_sockets = atol(argv[6]);
  rate_per_s = (int64_t)rate;
  if (rate_per_s < 1 || seconds <= 0 || max_sockets < 1) {
    fprintf(stderr, "fixed-rate: rate, seconds and max sockets must be positive\n");
    return 2;
  }
  double warmup = argc == 8 ? atof(argv[7]) : 0;
  if (warmup < 0) return fprintf(stderr, "fixed-rate: the warm-up cannot be negative\n"), 2;
  warm_n = (long)(rate * warmup);
  planned = warm_n + (long)(rate * seconds);

  variants = calloc(MAX_VARIANTS, sizeof *variants);
  variant_len = calloc(MAX_VARIANTS, sizeof *variant_len);
  size_t len;
  while (variant_count < MAX_VARIANTS && scanf("%zu", &len) == 1) {
    if (getchar() != '\n' || len == 0 || len > 16384) return fprintf(stderr, "fixed-rate: bad request framing\n"), 2;
    variants[variant_count] = malloc(len);
    if (fread(variants[variant_count], 1, len, stdin) != len) return fprintf(stderr, "fixed-rate: short request\n"), 2;
    variant_len[variant_count++] = len;
  }
  if (variant_count == 0) return fprintf(stderr, "fixed-rate: no request on stdin\n"), 2;

  conns = calloc((size_t)max_sockets, sizeof *conns);
  idle_stack = calloc((size_t)max_sockets, sizeof *idle_stack);
  free_stack = calloc((size_t)max_sockets, sizeof *free_stack);
  latencies = calloc((size_t)planned, sizeof *latencies);
  send_delays = calloc((size_t)planned, sizeof *send_delays);
  for (long i = max_sockets - 1; i >= 0; i--) {
    conns[i].fd = -1;
    conns[i].due = -1;
    free_stack[free_top++] = i;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event events[256];
  start_ns = now_ns() + 50000000LL;
  int64_t last_sweep = start_ns;

  while (done_count < planned) {
    int64_t now = now_ns();
    while (released < planned && due_at(released) <= now) released++;
    pump();
    if (now - last_sweep >= 100000000LL) {
      last_sweep = now;
      while (dispatched < released && now - due_at(dispatched) > REQUEST_TIMEOUT_NS) {
        dispatched++;
        failed();
      }
      for (long i = 0; i < max_sockets; i++)
        if (conns[i].fd >= 0 && conns[i].due >= 0 && now - conns[i].due > REQUEST_TIMEOUT_NS) conn_fail(i);
      if (now > due_at(planned) + DRAIN_NS) {
        error_count += planned - done_count;
        done_count = planned;
        break;
      }
    }
    /* Sleep until the next request is due, at most 10 ms (the sweep), waking for answers. */
    int64_t wait = 10000000LL;
    if (released < planned) {
      int64_t until = due_at(released) - now_ns();
      if (until < wait) wait = until < 0 ? 0 : until;
    }
    struct timespec timeout = {.tv_sec = 0, .tv_nsec = wait};
    int n = epoll_pwait2(ep, events, 256, &timeout, NULL);
    for (int k = 0; k < n; k++) {
      long i = (long)events[k].data.u64;
      conn_t *c = &conns[i];
      if (c->fd < 0) continue;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (events[k].events & (EPOLLERR | EPOLLHUP) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
          conn_fail(i);
          continue;
        }
        c->state = BUSY;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        if (write_request(i) < 0) conn_fail(i);
        continue;
      }
      if (events[k].events & EPOLLOUT && c->state == BUSY) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        if (write_request(i) < 0) {
          conn_fail(i);
          continue;
        }
      }
      if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (c->state == IDLE) {
          release_conn(i); /* the server closed an idle connection */
          for (long j = 0; j < idle_top; j++)
            if (idle_stack[j] == i) idle_stack[j] = idle_stack[--idle_top];
          continue;
        }
        on_readable(i);
      }
    }
  }
  /* Only the measured part: from when the first counted request was due. */
  int64_t measured_from = due_at(warm_n);
  double elapsed = (double)(now_ns() - measured_from) / 1e9;
  long measured = done_count - warm_n;
  qsort(latencies, (size_t)ok_count, sizeof *latencies, cmp_double);
  qsort(send_delays, (size_t)sent_count, sizeof *send_delays, cmp_double);
  printf("{\"requests\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"statuses\":{", measured, elapsed, (double)measured / elapsed);
  int first = 1;
  for (int s = 100; s < 600; s++)
    if (statuses[s]) {
      printf("%s\"%d\":%ld", first ? "" : ",", s, statuses[s]);
      first = 0;
    }
  printf("},\"errors\":%ld,\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f", error_count, pct(latencies, ok_count, 0.5), pct(latencies, ok_count, 0.99),
         pct(latencies, ok_count, 0.999), pct(latencies, ok_count, 1.0));
  printf(",\"sendLate\":{\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f}}\n", pct(send_delays, sent_count, 0.99), pct(send_delays, sent_count, 0.999), pct(send_delays, sent_count, 1.0));
  return 0;
}
