// fcov: which functions of an executable a run touches, exactly, with no special build.
//
// Used to write the link order of the swiftlet binary (scripts/link-order/generate.sh): every
// function start listed in FUNCS (hex file offsets of the text, one per line, from `nm`) gets a
// one-shot breakpoint (int3). The tracer runs PROGRAM under ptrace, follows its threads and
// forks until they exec something else, and on the first hit of each breakpoint appends the
// function's offset to OUT, restores the original byte and lets the task go on. SIGTERM and
// SIGINT sent to the tracer are passed to the program, so it can be stopped like the program.
//
// usage: fcov FUNCS OUT PROGRAM [ARGS...]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t root;
static void forward(int sig) { if (root > 0) kill(root, sig); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: fcov FUNCS OUT PROGRAM [ARGS...]\n"); return 2; }
    FILE *ff = fopen(argv[1], "r");
    if (!ff) { perror(argv[1]); return 2; }
    size_t n = 0, cap = 1 << 16;
    uint64_t *offs = malloc(cap * sizeof *offs);
    char line[64];
    while (fgets(line, sizeof line, ff)) {
        if (n == cap) offs = realloc(offs, (cap *= 2) * sizeof *offs);
        offs[n++] = strtoull(line, NULL, 16);
    }
    fclose(ff);
    qsort(offs, n, sizeof *offs, cmp_u64);
    FILE *out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 2; }

    root = fork();
    if (root == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[3], argv + 3);
        _exit(127);
    }
    int st;
    if (waitpid(root, &st, 0) < 0 || !WIFSTOPPED(st)) { fprintf(stderr, "fcov: program did not start\n"); return 1; }
    signal(SIGTERM, forward);
    signal(SIGINT, forward);

    // The executable's text: the first executable mapping of PROGRAM.
    char path[64], mline[512], real[4096];
    if (!realpath(argv[3], real)) { perror(argv[3]); return 1; }
    snprintf(path, sizeof path, "/proc/%d/maps", root);
    FILE *maps = fopen(path, "r");
    uint64_t lo = 0, hi = 0, fileoff = 0;
    while (maps && fgets(mline, sizeof mline, maps)) {
        unsigned long a, b, o; char perms[8], name[4096] = "";
        if (sscanf(mline, "%lx-%lx %7s %lx %*s %*s %4095s", &a, &b, perms, &o, name) >= 4 && perms[2] == 'x' &&
            strcmp(name, real) == 0) { lo = a; hi = b; fileoff = o; break; }
    }
    if (maps) fclose(maps);
    if (!lo) { fprintf(stderr, "fcov: no text mapping of %s\n", real); return 1; }
    size_t len = hi - lo;
    unsigned char *orig = malloc(len), *patched = malloc(len), *isbp = calloc(len, 1);
    snprintf(path, sizeof path, "/proc/%d/mem", root);
    int mem = open(path, O_RDWR);
    if (mem < 0 || pread(mem, orig, len, lo) != (ssize_t)len) { perror("read text"); return 1; }
    memcpy(patched, orig, len);
    size_t armed = 0;
    for (size_t i = 0; i < n; i++) {
        if (offs[i] < fileoff || offs[i] >= fileoff + len) continue;
        if (isbp[offs[i] - fileoff]) continue;
        patched[offs[i] - fileoff] = 0xCC; isbp[offs[i] - fileoff] = 1; armed++;
    }
    if (pwrite(mem, patched, len, lo) != (ssize_t)len) { perror("write text"); return 1; }
    close(mem);
    fprintf(stderr, "fcov: %zu breakpoints in %s\n", armed, real);
    long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC;
    ptrace(PTRACE_SETOPTIONS, root, 0, opts);
    ptrace(PTRACE_CONT, root, 0, 0);

    size_t hits = 0;
    for (;;) {
        pid_t t = waitpid(-1, &st, __WALL);
        if (t < 0) { if (errno == EINTR) continue; break; }
        if (WIFEXITED(st) || WIFSIGNALED(st)) { if (t == root) break; continue; }
        if (!WIFSTOPPED(st)) continue;
        int sig = WSTOPSIG(st), event = st >> 16;
        if (event == PTRACE_EVENT_EXEC) {
            // Another program now (a shim, a plugin): none of our breakpoints are in it.
            if (t != root) { ptrace(PTRACE_DETACH, t, 0, 0); continue; }
            ptrace(PTRACE_CONT, t, 0, 0); continue;
        }
        if (event) { ptrace(PTRACE_CONT, t, 0, 0); continue; }
        if (sig == SIGTRAP) {
            struct user_regs_struct r;
            if (ptrace(PTRACE_GETREGS, t, 0, &r) == 0) {
                uint64_t at = r.rip - 1;
                if (at >= lo && at < hi && isbp[at - lo]) {
                    uint64_t off = at - lo + fileoff;
                    if (patched[at - lo] == 0xCC) {
                        fprintf(out, "%lx\n", (unsigned long)off); fflush(out);
                        patched[at - lo] = orig[at - lo]; hits++;
                    }
                    // Restore in this task's memory (threads share it; a fork has its own copy).
                    snprintf(path, sizeof path, "/proc/%d/mem", t);
                    int m = open(path, O_RDWR);
                    if (m >= 0) { pwrite(m, &orig[at - lo], 1, at); close(m); }
                    r.rip = at;
                    ptrace(PTRACE_SETREGS, t, 0, &r);
                    ptrace(PTRACE_CONT, t, 0, 0);
                    continue;
                }
            }
            ptrace(PTRACE_CONT, t, 0, SIGTRAP);
            continue;
        }
        // The first stop of a new thread or fork is its SIGSTOP: swallow it; pass other signals on.
        ptrace(PTRACE_CONT, t, 0, sig == SIGSTOP ? 0 : sig);
    }
    fprintf(stderr, "fcov: %zu functions touched\n", hits);
    fclose(out);
    return 0;
}
