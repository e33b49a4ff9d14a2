/*
 * elfship bundle launcher: start a bundled program through the bundle's own ELF loader.
 *
 * Compiled by elfship at bundle time into a tiny static executable (musl), with inflate.c and unpack.c included. One binary serves every bundle:
 * what to run is read from a config block appended to this very file, so nothing is compiled per program.
 *
 *   launcher mode         OUT/<prog>      runs OUT/bin/<prog> through OUT/lib/<loader>
 *   self-extracting mode  one file        payload + config appended; unpacked once into a cache directory
 *                                         named by the payload hash, then run from there like a launcher
 *
 * The program is started with execv, never fork: it keeps our pid, so exit status, signals, stdin, stdout
 * and stderr are its own and nothing stays behind to forward them.
 *
 * File layout:  [ELF launcher][payload (self-extracting only)][config text][u32 LE config length]["ELFSHIP1"]
 * Config text:  one "key=value" per line.
 *   program=NAME        the program, OUT/bin/NAME
 *   loader=PATH         the loader: relative to the bundle directory, or absolute (the target's own loader)
 *   exec=PATH           what to execve (a symlink to the loader named like the program, so ps shows NAME)
 *   arg=ARG             loader option, in order ("@DIR@" is replaced by the bundle directory)
 *   argv0=1             the loader takes --argv0: pass argv[0] exactly as the user typed it
 *   env=NAME=VALUE      set in the program's environment ("@DIR@" replaced)
 *   payload_size=N      self-extracting: bytes of payload just before the config text
 *   payload_hash=HEX    self-extracting: cache directory name
 *
 * Payload entries (little endian): u8 type ('d' dir, 'x' x86-BCJ + LZMA file (unlzma.c), 'f' deflated file, 'r' raw file,
 * 'l' symlink, 'X' solid block, 's' file whose content is the next `size` bytes of the last solid block), u8 0,
 * u16 path length, u32 mode, u64 size, u64 stored length, u32 crc32 of the content, path, stored bytes.
 * A solid block 'X' has no path, size = decoded length, stored = its x86-BCJ + LZMA stream, crc 0 (its bytes
 * are checked by the CRCs of the 's' files, which must use it up exactly); an 's' entry stores nothing.
 * Parents come before children; paths are relative with plain components; a symlink's target (its stored
 * bytes) stays inside the bundle. unpack.c refuses anything else as a corrupt payload (see its comment).
 *
 * Environment given to the program (since /proc/self/exe is now the loader):
 *   ELFSHIP_EXE        absolute path of the program's own ELF file (OUT/bin/NAME)
 *   ELFSHIP_LAUNCHER   absolute path of the file the user started (this launcher)
 *   ELFSHIP_ARGV0      argv[0] as typed (for loaders too old for --argv0)
 * Self-extracting cache: $ELFSHIP_CACHE_DIR, else $TMPDIR (or /tmp)/elfship-UID, else $XDG_CACHE_HOME/elfship,
 * else $HOME/.cache/elfship; a candidate on a noexec mount or not safely ours (a symlink, someone else's,
 * writable by group or others) is skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PATH_SIZE 4096
#define MAX_ARGS 32
#define MAX_ENVS 16
#define MAGIC "ELFSHIP1"
#define MAGIC_LEN 8
#define EXIT_LAUNCH_FAILED 127

struct config {
    char *program;
    char *loader;
    char *exec;
    char *args[MAX_ARGS];
    int nargs;
    char *envs[MAX_ENVS];
    int nenvs;
    int argv0;
    uint64_t payload_size;
    char *payload_hash;
};

/* The launcher's only string formatting (stdio's printf would be a fifth of its size): the NULL-terminated
 * parts one after the other into out, always terminated; -1 when they did not all fit (out is cut short). */
static int concat(char *out, size_t size, const char *const *parts) {
    size_t len = 0;
    for (; *parts; parts++) {
        size_t n = strlen(*parts);
        if (n >= size - len) {
            memcpy(out + len, *parts, size - 1 - len);
            out[size - 1] = '\0';
            return -1;
        }
        memcpy(out + len, *parts, n);
        len += n;
    }
    out[len] = '\0';
    return 0;
}
#define CONCAT(out, size, ...) concat(out, size, (const char *const[]){__VA_ARGS__, NULL})

static const char *decimal(unsigned long value, char digits[24]) {
    char *p = digits + 23;
    *p = '\0';
    do *--p = (char)('0' + value % 10); while (value /= 10);
    return p;
}

/* One line on stderr, in one write. */
static void say(const char *const *parts) {
    char line[2 * PATH_SIZE];
    concat(line, sizeof line - 1, parts);
    size_t len = strlen(line);
    line[len++] = '\n';
    if (write(2, line, len) < 0) return; /* nowhere left to report it */
}

static void die(const char *what, const char *detail) {
    say((const char *const[]){"elfship launcher: ", what, detail ? ": " : "", detail ? detail : "", NULL});
    exit(EXIT_LAUNCH_FAILED);
}

static void join(char *out, size_t size, const char *a, const char *b) {
    if (CONCAT(out, size, a, "/", b) < 0) die("path too long", a);
}

/* ---------- where am I ---------- */

static void dirname_of(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (len == 0) len = slash ? 1 : 0;
    if (len >= size) die("path too long", path);
    if (len == 0) {
        strcpy(out, ".");
        return;
    }
    memcpy(out, path, len);
    out[len] = '\0';
}

/* Make the directory part of an absolute path canonical ("links/../x" -> "x") without /proc: ask the kernel
 * with chdir + getcwd, then go back where we were. */
static void canonical_dir(char *path, size_t size) {
    char dir[PATH_SIZE], canon[PATH_SIZE], base[PATH_SIZE];
    const char *slash = strrchr(path, '/');
    if (!slash || strlen(slash + 1) >= sizeof base) return;
    strcpy(base, slash + 1);
    dirname_of(path, dir, sizeof dir);
    int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (here < 0) return;
    if (chdir(dir) == 0 && getcwd(canon, sizeof canon)) {
        if (strcmp(canon, "/") == 0) canon[0] = '\0';
        join(path, size, canon, base);
    }
    if (fchdir(here) < 0) die("cannot return to the current directory", strerror(errno));
    close(here);
}

/* Without /proc (a bare chroot), rebuild our path from what execve was given, following symlinks to the
 * launcher itself so that a link in /usr/local/bin still finds the bundle next to the real file. */
static void self_without_proc(const char *argv0, char *out, size_t size) {
    const char *name = (const char *)getauxval(AT_EXECFN);
    if (!name || !*name) name = argv0;
    if (!name || !strchr(name, '/')) die("cannot find myself: /proc is not mounted and argv[0] has no '/'", name);
    if (name[0] == '/') {
        if (strlen(name) >= size) die("path too long", name);
        strcpy(out, name);
    } else {
        char cwd[PATH_SIZE];
        if (!getcwd(cwd, sizeof cwd)) die("cannot read the current directory", strerror(errno));
        join(out, size, cwd, name);
    }
    for (int hops = 0; hops < 40; hops++) {
        char target[PATH_SIZE], dir[PATH_SIZE];
        ssize_t n = readlink(out, target, sizeof target - 1);
        if (n < 0) { /* not a symlink: this is the file */
            canonical_dir(out, size);
            return;
        }
        target[n] = '\0';
        if (target[0] == '/') {
            strcpy(out, target);
        } else {
            dirname_of(out, dir, sizeof dir);
            join(out, size, dir, target);
        }
    }
    die("too many symlinks", out);
}

static void find_self(const char *argv0, char *out, size_t size) {
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n > 0 && out[0] == '/') {
        out[n] = '\0';
        return;
    }
    self_without_proc(argv0, out, size);
}

/* ---------- config block ---------- */

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void parse_line(struct config *c, char *line) {
    char *eq = strchr(line, '=');
    if (!eq) return;
    *eq = '\0';
    char *value = eq + 1;
    if (!strcmp(line, "program")) c->program = value;
    else if (!strcmp(line, "loader")) c->loader = value;
    else if (!strcmp(line, "exec")) c->exec = value;
    else if (!strcmp(line, "argv0")) c->argv0 = !strcmp(value, "1");
    else if (!strcmp(line, "payload_hash")) c->payload_hash = value;
    else if (!strcmp(line, "payload_size")) c->payload_size = strtoull(value, NULL, 10);
    else if (!strcmp(line, "arg") && c->nargs < MAX_ARGS) c->args[c->nargs++] = value;
    else if (!strcmp(line, "env") && c->nenvs < MAX_ENVS) c->envs[c->nenvs++] = value;
}

/* Returns the file offset where the config text starts. */
static uint64_t read_config(int fd, const char *self, struct config *c) {
    struct stat st;
    unsigned char tail[4 + MAGIC_LEN];
    if (fstat(fd, &st) < 0) die("cannot stat myself", strerror(errno));
    if (st.st_size < (off_t)sizeof tail) die("no bundle config appended to", self);
    if (pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail) != (ssize_t)sizeof tail)
        die("cannot read myself", self);
    if (memcmp(tail + 4, MAGIC, MAGIC_LEN)) die("no bundle config appended to", self);
    uint32_t len = le32(tail);
    if (len > 65536 || (off_t)(len + sizeof tail) > st.st_size) die("corrupt bundle config in", self);
    char *text = malloc(len + 1);
    if (!text) die("out of memory", NULL);
    off_t start = st.st_size - (off_t)sizeof tail - (off_t)len;
    if (pread(fd, text, len, start) != (ssize_t)len) die("cannot read myself", self);
    text[len] = '\0';
    memset(c, 0, sizeof *c);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        parse_line(c, line);
    }
    if (!c->program || !c->loader) die("incomplete bundle config in", self);
    return (uint64_t)start;
}

/* One translation unit: the launcher stays a single small static file, built with one compiler call. */
#include "inflate.c" /* raw DEFLATE decoder and CRC-32 */
#include "unlzma.c"   /* raw LZMA decoder */
#include "unpack.c"  /* self-extracting: unpack once into a cache directory */

/* ---------- run the program ---------- */

static char *expand(const char *template, const char *dir) {
    const char *mark = strstr(template, "@DIR@");
    size_t size = strlen(template) + strlen(dir) + 1;
    char *out = malloc(size);
    if (!out) die("out of memory", NULL);
    if (!mark) {
        strcpy(out, template);
    } else {
        size_t head = (size_t)(mark - template);
        memcpy(out, template, head);
        CONCAT(out + head, size - head, dir, mark + 5);
    }
    return out;
}

static char *in_dir(const char *dir, const char *path) {
    if (path[0] == '/') return (char *)path;
    size_t size = strlen(dir) + strlen(path) + 2;
    char *out = malloc(size);
    if (!out) die("out of memory", NULL);
    CONCAT(out, size, dir, "/", path);
    return out;
}

static void set_environment(const struct config *c, const char *dir, const char *self, const char *argv0,
                            const char *program) {
    if (setenv("ELFSHIP_EXE", program, 1) || setenv("ELFSHIP_LAUNCHER", self, 1) ||
        setenv("ELFSHIP_ARGV0", argv0, 1))
        die("cannot set the environment", strerror(errno));
    for (int i = 0; i < c->nenvs; i++)
        if (putenv(expand(c->envs[i], dir))) die("cannot set the environment", strerror(errno));
}

/* Returns only when execv failed; errno tells why. */
static void launch(const struct config *c, const char *dir, const char *self, int argc, char **argv) {
    const char *argv0 = argc > 0 && argv[0] ? argv[0] : self;
    char *program = in_dir(dir, "bin");
    program = in_dir(program, c->program);
    char *loader = in_dir(dir, c->loader);
    char **args = calloc((size_t)argc + MAX_ARGS + 8, sizeof *args);
    if (!args) die("out of memory", NULL);
    int n = 0;
    args[n++] = loader; /* the loader's own argv[0]: never the program name (musl's ldso turns "ldd" into ldd) */
    for (int i = 0; i < c->nargs; i++) args[n++] = expand(c->args[i], dir);
    if (c->argv0) {
        args[n++] = "--argv0";
        args[n++] = (char *)argv0;
    }
    args[n++] = program;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = NULL;
    set_environment(c, dir, self, argv0, program);
    if (c->exec) execv(in_dir(dir, c->exec), args);
    execv(loader, args); /* no libexec symlink (copied by a tool that drops links): the loader itself */
}

int main(int argc, char **argv) {
    char self[PATH_SIZE];
    struct config c;
    find_self(argc > 0 ? argv[0] : NULL, self, sizeof self);
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open myself", strerror(errno));
    uint64_t config_start = read_config(fd, self, &c);
    if (!c.payload_size) {
        char dir[PATH_SIZE];
        close(fd);
        dirname_of(self, dir, sizeof dir);
        launch(&c, dir, self, argc, argv);
        die("cannot start the bundled loader", strerror(errno));
    }
    struct unpacked u;
    ensure_unpacked(fd, config_start, &c, self, &u, 0);
    launch(&c, u.dir, self, argc, argv);
    if (errno != ENOENT) die("cannot start the bundled loader", strerror(errno));
    /* The cache copy lost files (a /tmp cleaner): unpack it again, once. */
    ensure_unpacked(fd, config_start, &c, self, &u, 1);
    close(fd);
    launch(&c, u.dir, self, argc, argv);
    die("cannot start the bundled loader", strerror(errno));
    return EXIT_LAUNCH_FAILED;
}
