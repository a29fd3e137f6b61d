/* Conformance sweep written only against nccl.h and linked to the drop-in
 * libnccl.so.2.
 *
 *   nccl_sweep NRANKS MODE [quick]
 *
 * MODE: procs   - fork NRANKS processes that meet through a unique id made
 *                 by ncclGetUniqueId before the fork (ncclCommInitRank)
 *       threads - NRANKS threads of this process, ncclCommInitRank each
 *       initall - ncclCommInitAll, one thread driving every rank in groups
 *
 * Every collective, every datatype x op (sum, prod, max, min, avg, premulsum),
 * every root, counts 0, 1, 7, 1000 and one over 16 MiB, in place and out of
 * place, point to point in groups. Exits 0 only if every element is right.
 * An alarm fails the run if anything hangs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nccl.h"
#include "support/nccl_types.h"

#define MAX_RANKS 8
#define NUM_OPS 6 /* sum, prod, max, min, avg, premulsum */
#define OP_PREMUL 5
#define LARGE_COUNT ((size_t)(17u << 20) / 4 + 3) /* > 16 MiB of float */

typedef struct {
  int nranks;
  int nlocal;                 /* ranks driven by this thread */
  int rank[MAX_RANKS];        /* their ranks */
  ncclComm_t comm[MAX_RANKS]; /* their communicators */
  void* send[MAX_RANKS];
  void* recv[MAX_RANKS];
  size_t bufBytes;
  long checks;
  long wrong;
  int quick;
} ctx_t;

static int g_timeout = 240;

#define NCCLCHECK(call)                                                               \
  do {                                                                                \
    ncclResult_t r_ = (call);                                                         \
    if (r_ != ncclSuccess) {                                                          \
      fprintf(stderr, "%s:%d %s failed: %s (%s)\n", __FILE__, __LINE__, #call,       \
              ncclGetErrorString(r_), ncclGetLastError(NULL));                        \
      exit(2);                                                                        \
    }                                                                                 \
  } while (0)

/* Small exact input values per op; see nccl_types.h. */
static int input_value(int op, ncclDataType_t t, int rank, size_t i) {
  switch (op) {
    case ncclSum:
    case ncclAvg:
    case OP_PREMUL: return (int)((rank + i) % (t == ncclFloat8e5m2 ? 2 : 3));
    case ncclProd: return ((rank + i) % 4 == 0) ? 2 : 1;
    default: return (int)((rank * 7 + i) % 9); /* max, min */
  }
}

/* Expected element i of the reduction over all ranks. */
static double expected_value(int op, ncclDataType_t t, int nranks, size_t i) {
  double acc = (op == ncclProd) ? 1 : (op == ncclMin ? 1e300 : (op == ncclMax ? -1e300 : 0));
  for (int r = 0; r < nranks; ++r) {
    double v = input_value(op, t, r, i);
    switch (op) {
      case ncclProd: acc *= v; break;
      case ncclMax: acc = v > acc ? v : acc; break;
      case ncclMin: acc = v < acc ? v : acc; break;
      case OP_PREMUL: acc += 2 * v; break;
      default: acc += v; break;
    }
  }
  if (op == ncclAvg) {
    acc = type_is_float(t) ? acc / nranks : (double)((long long)acc / nranks);
  }
  return type_is_float(t) ? acc : wrap_int(t, acc);
}

/* Value element i of a rank's buffer holds in data-movement collectives. */
static int move_value(int rank, size_t i) { return (int)((rank * 5 + i * 7) % 9); }

static void check(ctx_t* c, const char* what, ncclDataType_t t, int op, int rank, size_t count,
                  const void* buf, size_t i, double expect) {
  double got = read_elem(t, buf, i);
  double tol = (op == ncclAvg) ? type_eps(t) * (expect < 0 ? -expect : expect) : 0;
  c->checks++;
  if (got - expect > tol || expect - got > tol || got != got) {
    if (c->wrong < 10) {
      fprintf(stderr, "WRONG %s type=%s op=%d rank=%d count=%zu elem=%zu: got %g expected %g\n",
              what, type_name(t), op, rank, count, i, got, expect);
    }
    c->wrong++;
  }
}

/* Poisons the part of the receive buffer an operation of `count` elements
 * per rank can touch, so stale results cannot pass. */
static void fill_garbage(ctx_t* c, int k, size_t count, ncclDataType_t t) {
  size_t bytes = count * type_size(t) * (size_t)c->nranks * 2 + 64;
  memset(c->recv[k], 0x5a, bytes < c->bufBytes ? bytes : c->bufBytes);
}

static void group_begin(ctx_t* c) { if (c->nlocal > 1) NCCLCHECK(ncclGroupStart()); }
static void group_end(ctx_t* c) { if (c->nlocal > 1) NCCLCHECK(ncclGroupEnd()); }

/* Resolves the op for a rank: built-ins as they are, PreMulSum with 2. */
static ncclRedOp_t make_op(ctx_t* c, int k, int op, ncclDataType_t t) {
  if (op != OP_PREMUL) return (ncclRedOp_t)op;
  char scalar[8];
  write_small(t, scalar, 0, 2);
  ncclRedOp_t made;
  NCCLCHECK(ncclRedOpCreatePreMulSum(&made, scalar, t, ncclScalarHostImmediate, c->comm[k]));
  return made;
}

static void free_op(ctx_t* c, int k, int op, ncclRedOp_t made) {
  if (op == OP_PREMUL) NCCLCHECK(ncclRedOpDestroy(made, c->comm[k]));
}

static void test_reducing(ctx_t* c, ncclDataType_t t, int op, size_t count, int inplace,
                          int root) {
  int n = c->nranks;
  size_t es = type_size(t);
  ncclRedOp_t ops[MAX_RANKS];
  /* All-reduce */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    for (size_t i = 0; i < count; ++i) write_small(t, c->send[k], i, input_value(op, t, c->rank[k], i));
    ops[k] = make_op(c, k, op, t);
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* out = inplace ? c->send[k] : c->recv[k];
    NCCLCHECK(ncclAllReduce(c->send[k], out, count, t, ops[k], c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* out = inplace ? c->send[k] : c->recv[k];
    for (size_t i = 0; i < count; ++i)
      check(c, inplace ? "allreduce-inplace" : "allreduce", t, op, c->rank[k], count, out, i,
            expected_value(op, t, n, i));
  }
  /* Reduce-scatter: rank r's input holds n blocks; block b element j is
   * global element b*count+j. */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    for (size_t i = 0; i < count * n; ++i) write_small(t, c->send[k], i, input_value(op, t, c->rank[k], i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* out = inplace ? (char*)c->send[k] + (size_t)c->rank[k] * count * es : c->recv[k];
    NCCLCHECK(ncclReduceScatter(c->send[k], out, count, t, ops[k], c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* out = inplace ? (char*)c->send[k] + (size_t)c->rank[k] * count * es : c->recv[k];
    for (size_t i = 0; i < count; ++i)
      check(c, "reducescatter", t, op, c->rank[k], count, out, i,
            expected_value(op, t, n, (size_t)c->rank[k] * count + i));
  }
  /* Reduce to root */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    for (size_t i = 0; i < count; ++i) write_small(t, c->send[k], i, input_value(op, t, c->rank[k], i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* out = inplace ? c->send[k] : (c->rank[k] == root ? c->recv[k] : NULL);
    NCCLCHECK(ncclReduce(c->send[k], out, count, t, ops[k], root, c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k) {
    if (c->rank[k] != root) continue;
    void* out = inplace ? c->send[k] : c->recv[k];
    for (size_t i = 0; i < count; ++i)
      check(c, "reduce", t, op, root, count, out, i, expected_value(op, t, n, i));
  }
  for (int k = 0; k < c->nlocal; ++k) free_op(c, k, op, ops[k]);
}

static void test_moving(ctx_t* c, ncclDataType_t t, size_t count, int inplace, int root) {
  int n = c->nranks;
  size_t es = type_size(t);
  /* All-gather */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    void* in = inplace ? (char*)c->recv[k] + (size_t)c->rank[k] * count * es : c->send[k];
    for (size_t i = 0; i < count; ++i) write_small(t, in, i, move_value(c->rank[k], i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* in = inplace ? (char*)c->recv[k] + (size_t)c->rank[k] * count * es : c->send[k];
    NCCLCHECK(ncclAllGather(in, c->recv[k], count, t, c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k)
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < count; ++i)
        check(c, "allgather", t, -1, c->rank[k], count, c->recv[k], r * count + i, move_value(r, i));
  /* Broadcast */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    void* in = inplace ? c->recv[k] : c->send[k];
    for (size_t i = 0; i < count; ++i) write_small(t, in, i, move_value(c->rank[k], i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    void* in = inplace ? c->recv[k] : c->send[k];
    NCCLCHECK(ncclBroadcast(in, c->recv[k], count, t, root, c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k)
    for (size_t i = 0; i < count; ++i)
      check(c, "broadcast", t, -1, c->rank[k], count, c->recv[k], i, move_value(root, i));
  /* Gather to root */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    int atRoot = c->rank[k] == root;
    void* in = (inplace && atRoot) ? (char*)c->recv[k] + (size_t)root * count * es : c->send[k];
    for (size_t i = 0; i < count; ++i) write_small(t, in, i, move_value(c->rank[k], i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    int atRoot = c->rank[k] == root;
    void* in = (inplace && atRoot) ? (char*)c->recv[k] + (size_t)root * count * es : c->send[k];
    NCCLCHECK(ncclGather(in, atRoot ? c->recv[k] : NULL, count, t, root, c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k) {
    if (c->rank[k] != root) continue;
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < count; ++i)
        check(c, "gather", t, -1, root, count, c->recv[k], r * count + i, move_value(r, i));
  }
  /* Scatter from root: block r of root's input holds values for rank r. */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    memset(c->send[k], 0x33, count * es * (size_t)n + 64);
    if (c->rank[k] == root)
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i) write_small(t, c->send[k], r * count + i, move_value(r, i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k) {
    int atRoot = c->rank[k] == root;
    void* out = (inplace && atRoot) ? (char*)c->send[k] + (size_t)root * count * es : c->recv[k];
    NCCLCHECK(ncclScatter(atRoot ? c->send[k] : NULL, out, count, t, root, c->comm[k], NULL));
  }
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k) {
    int atRoot = c->rank[k] == root;
    void* out = (inplace && atRoot) ? (char*)c->send[k] + (size_t)root * count * es : c->recv[k];
    for (size_t i = 0; i < count; ++i)
      check(c, "scatter", t, -1, c->rank[k], count, out, i, move_value(c->rank[k], i));
  }
  if (inplace) return; /* all-to-all and send/recv are out of place only */
  /* All-to-all: block j of rank r's input goes to rank j, lands at block r. */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    for (int j = 0; j < n; ++j)
      for (size_t i = 0; i < count; ++i)
        write_small(t, c->send[k], j * count + i, move_value(c->rank[k] * n + j, i));
  }
  group_begin(c);
  for (int k = 0; k < c->nlocal; ++k)
    NCCLCHECK(ncclAlltoAll(c->send[k], c->recv[k], count, t, c->comm[k], NULL));
  group_end(c);
  for (int k = 0; k < c->nlocal; ++k)
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < count; ++i)
        check(c, "alltoall", t, -1, c->rank[k], count, c->recv[k], r * count + i,
              move_value(r * n + c->rank[k], i));
  /* Send/recv: each rank sends to the next and receives from the previous,
   * plus a second pair towards the rank two ahead, all in one group. */
  for (int k = 0; k < c->nlocal; ++k) {
    fill_garbage(c, k, count, t);
    for (size_t i = 0; i < 2 * count; ++i) write_small(t, c->send[k], i, move_value(c->rank[k], i));
  }
  NCCLCHECK(ncclGroupStart());
  for (int k = 0; k < c->nlocal; ++k) {
    int r = c->rank[k];
    NCCLCHECK(ncclSend(c->send[k], count, t, (r + 1) % n, c->comm[k], NULL));
    NCCLCHECK(ncclRecv(c->recv[k], count, t, (r - 1 + n) % n, c->comm[k], NULL));
    NCCLCHECK(ncclSend((char*)c->send[k] + count * es, count, t, (r + 2) % n, c->comm[k], NULL));
    NCCLCHECK(ncclRecv((char*)c->recv[k] + count * es, count, t, (r - 2 + 2 * n) % n, c->comm[k], NULL));
  }
  NCCLCHECK(ncclGroupEnd());
  for (int k = 0; k < c->nlocal; ++k) {
    int r = c->rank[k];
    for (size_t i = 0; i < count; ++i) {
      check(c, "sendrecv", t, -1, r, count, c->recv[k], i, move_value((r - 1 + n) % n, i));
      check(c, "sendrecv2", t, -1, r, count, c->recv[k], count + i,
            move_value((r - 2 + 2 * n) % n, count + i));
    }
  }
}

static void sweep(ctx_t* c) {
  static const size_t counts[] = {0, 1, 7, 1000};
  int n = c->nranks;
  for (int t = 0; t < ncclNumTypes; ++t) {
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ++ci) {
      for (int inplace = 0; inplace < 2; ++inplace) {
        for (int op = 0; op < NUM_OPS; ++op) {
          if (c->quick && op > 0 && counts[ci] > 7) continue;
          test_reducing(c, (ncclDataType_t)t, op, counts[ci], inplace, (t + op + (int)ci) % n);
        }
        test_moving(c, (ncclDataType_t)t, counts[ci], inplace, (t + (int)ci + inplace) % n);
      }
    }
  }
  /* Every root. */
  for (int root = 0; root < n; ++root) {
    for (int inplace = 0; inplace < 2; ++inplace) {
      test_reducing(c, ncclFloat32, ncclSum, 1000, inplace, root);
      test_moving(c, ncclInt32, 1000, inplace, root);
    }
  }
  /* Large: over 16 MiB. */
  test_reducing(c, ncclFloat32, ncclSum, LARGE_COUNT, 0, n - 1);
  test_reducing(c, ncclFloat32, ncclSum, LARGE_COUNT, 1, 0);
  if (!c->quick) test_moving(c, ncclFloat32, LARGE_COUNT / n + 1, 0, 0);
}

static void alloc_buffers(ctx_t* c) {
  /* Send/recv uses two blocks per rank, the others nranks blocks. */
  size_t blocks = c->nranks > 2 ? (size_t)c->nranks : 2;
  size_t large = (LARGE_COUNT + 2) * 4 * blocks;
  size_t small = 1000 * 8 * blocks;
  c->bufBytes = (large > small ? large : small) + 64;
  for (int k = 0; k < c->nlocal; ++k) {
    c->send[k] = malloc(c->bufBytes);
    c->recv[k] = malloc(c->bufBytes);
    if (!c->send[k] || !c->recv[k]) {
      fprintf(stderr, "out of memory\n");
      exit(2);
    }
  }
}

static int finish(ctx_t* c, const char* mode) {
  for (int k = 0; k < c->nlocal; ++k) {
    int count = -1, rank = -1;
    NCCLCHECK(ncclCommCount(c->comm[k], &count));
    NCCLCHECK(ncclCommUserRank(c->comm[k], &rank));
    if (count != c->nranks || rank != c->rank[k]) {
      fprintf(stderr, "comm reports rank %d of %d, expected %d of %d\n", rank, count, c->rank[k], c->nranks);
      c->wrong++;
    }
    NCCLCHECK(ncclCommFinalize(c->comm[k]));
    NCCLCHECK(ncclCommDestroy(c->comm[k]));
    free(c->send[k]);
    free(c->recv[k]);
  }
  if (c->nlocal == c->nranks || c->rank[0] == 0 || c->wrong) {
    printf("nccl_sweep %s rank %d: %ld checks, %ld wrong\n", mode, c->rank[0], c->checks, c->wrong);
  }
  return c->wrong ? 1 : 0;
}

typedef struct {
  ncclUniqueId id;
  int nranks, rank, quick;
  int result;
} thread_arg_t;

static void* rank_thread(void* p) {
  thread_arg_t* a = (thread_arg_t*)p;
  ctx_t c;
  memset(&c, 0, sizeof c);
  c.nranks = a->nranks;
  c.nlocal = 1;
  c.rank[0] = a->rank;
  c.quick = a->quick;
  NCCLCHECK(ncclCommInitRank(&c.comm[0], a->nranks, a->id, a->rank));
  alloc_buffers(&c);
  sweep(&c);
  a->result = finish(&c, "rank");
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s NRANKS procs|threads|initall [quick]\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]);
  const char* mode = argv[2];
  int quick = argc > 3 && strcmp(argv[3], "quick") == 0;
  if (n < 1 || n > MAX_RANKS) return 2;
  const char* t = getenv("SWEEP_TIMEOUT");
  if (t) g_timeout = atoi(t);
  alarm(g_timeout + 5); /* watchdog: a hang kills the run (children get their own) */

  int version = 0;
  NCCLCHECK(ncclGetVersion(&version));
  /* The library may be built from another patch release of the header. */
  if (version / 100 != NCCL_VERSION_CODE / 100) {
    fprintf(stderr, "library reports version %d, header %d\n", version, NCCL_VERSION_CODE);
    return 1;
  }

  if (strcmp(mode, "initall") == 0) {
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.nranks = n;
    c.nlocal = n;
    c.quick = quick;
    for (int r = 0; r < n; ++r) c.rank[r] = r;
    NCCLCHECK(ncclCommInitAll(c.comm, n, NULL));
    alloc_buffers(&c);
    sweep(&c);
    return finish(&c, "initall");
  }

  ncclUniqueId id;
  if (strcmp(mode, "threads") == 0) {
    NCCLCHECK(ncclGetUniqueId(&id));
    pthread_t th[MAX_RANKS];
    thread_arg_t args[MAX_RANKS];
    for (int r = 0; r < n; ++r) {
      args[r].id = id;
      args[r].nranks = n;
      args[r].rank = r;
      args[r].quick = quick;
      args[r].result = 1;
      pthread_create(&th[r], NULL, rank_thread, &args[r]);
    }
    int failed = 0;
    for (int r = 0; r < n; ++r) {
      pthread_join(th[r], NULL);
      failed |= args[r].result;
    }
    return failed;
  }

  /* procs: fork first, while this process has no other thread (a fork
   * while one runs can copy a lock it holds, such as the allocator's under
   * AddressSanitizer, into the child, locked for good); then make the id,
   * whose bootstrap root this process hosts, and hand each child a copy
   * through a pipe (writes of an id are atomic: it is below PIPE_BUF). */
  int go[2];
  if (pipe(go) != 0) {
    perror("pipe");
    return 1;
  }
  pid_t pids[MAX_RANKS];
  for (int r = 0; r < n; ++r) {
    pids[r] = fork();
    if (pids[r] == 0) {
      alarm(g_timeout);
      close(go[1]);
      ncclUniqueId mine;
      ssize_t got;
      do {
        got = read(go[0], &mine, sizeof mine);
      } while (got < 0 && errno == EINTR);
      close(go[0]);
      if (got != (ssize_t)sizeof mine) _exit(3);
      thread_arg_t a = {mine, n, r, quick, 1};
      rank_thread(&a);
      fflush(stdout);
      _exit(a.result);
    }
  }
  close(go[0]);
  if (ncclGetUniqueId(&id) != ncclSuccess) {
    fprintf(stderr, "ncclGetUniqueId failed: %s\n", ncclGetLastError(NULL));
  } else {
    for (int r = 0; r < n; ++r) {
      if (write(go[1], &id, sizeof id) != (ssize_t)sizeof id) perror("write");
    }
  }
  close(go[1]); /* children still waiting read end-of-file and fail */
  int failed = 0;
  for (int r = 0; r < n; ++r) {
    int status = 0;
    waitpid(pids[r], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "rank %d failed (status %d)\n", r, status);
      failed = 1;
    }
  }
  printf("nccl_sweep procs: %d ranks %s\n", n, failed ? "FAILED" : "passed");
  return failed;
}
