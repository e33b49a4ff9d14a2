/*
 * elfship bundle launcher: start a bundled program through the bundle's own ELF loader.
 *
 * Compiled by elfship at bundle time into a tiny static executable (musl). One binary serves every bundle:
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
 * Payload entries (little endian): u8 type ('d' dir, 'f' deflated file, 'r' raw file, 'l' symlink), u8 0,
 * u16 path length, u32 mode, u64 size, u64 stored length, u32 crc32 of the content, path, stored bytes.
 *
 * Environment given to the program (since /proc/self/exe is now the loader):
 *   ELFSHIP_EXE        absolute path of the program's own ELF file (OUT/bin/NAME)
 *   ELFSHIP_LAUNCHER   absolute path of the file the user started (this launcher)
 *   ELFSHIP_ARGV0      argv[0] as typed (for loaders too old for --argv0)
 * Self-extracting cache: $ELFSHIP_CACHE_DIR, else $TMPDIR (or /tmp)/elfship-UID, else $XDG_CACHE_HOME/elfship,
 * else $HOME/.cache/elfship; a candidate on a noexec mount or not safely ours is skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
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

static void die(const char *what, const char *detail) {
    fprintf(stderr, "elfship launcher: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(EXIT_LAUNCH_FAILED);
}

static void join(char *out, size_t size, const char *a, const char *b) {
    if ((size_t)snprintf(out, size, "%s/%s", a, b) >= size) die("path too long", a);
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

/* ---------- raw DEFLATE (RFC 1951) decoder, used once per self-extracting first start ---------- */

struct inflater {
    const unsigned char *in;
    size_t in_len, in_pos;
    unsigned char *out;
    size_t out_len, out_pos;
    uint32_t bit_buf;
    int bit_count;
    int failed;
};

struct huffman {
    short count[16];  /* codes of each length */
    short symbol[320]; /* symbols ordered by code */
};

static unsigned take_bits(struct inflater *s, int need) {
    uint32_t value = s->bit_buf;
    while (s->bit_count < need) {
        if (s->in_pos >= s->in_len) {
            s->failed = 1;
            return 0;
        }
        value |= (uint32_t)s->in[s->in_pos++] << s->bit_count;
        s->bit_count += 8;
    }
    s->bit_buf = value >> need; /* need is at most 13 */
    s->bit_count -= need;
    return value & ((1u << need) - 1);
}

/* Canonical Huffman: returns 0 when complete, >0 when incomplete, <0 when over-subscribed. */
static int build_huffman(struct huffman *h, const unsigned char *lengths, int n) {
    short offsets[16];
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++) h->count[lengths[i]]++;
    if (h->count[0] == n) return 0;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left = (left << 1) - h->count[len];
        if (left < 0) return left;
    }
    offsets[1] = 0;
    for (int len = 1; len < 15; len++) offsets[len + 1] = (short)(offsets[len] + h->count[len]);
    for (int i = 0; i < n; i++)
        if (lengths[i]) h->symbol[offsets[lengths[i]]++] = (short)i;
    return left;
}

static int decode_symbol(struct inflater *s, const struct huffman *h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        code |= (int)take_bits(s, 1);
        if (s->failed) return -1;
        int count = h->count[len];
        if (code - count < first) return h->symbol[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    s->failed = 1;
    return -1;
}

static const short length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const short dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,    65,    97,    129,
                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const short dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                     6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int inflate_codes(struct inflater *s, const struct huffman *lit, const struct huffman *dist) {
    for (;;) {
        int sym = decode_symbol(s, lit);
        if (sym < 0) return -1;
        if (sym < 256) {
            if (s->out_pos >= s->out_len) return -1;
            s->out[s->out_pos++] = (unsigned char)sym;
        } else if (sym == 256) {
            return 0;
        } else {
            sym -= 257;
            if (sym >= 29) return -1;
            size_t len = (size_t)length_base[sym] + take_bits(s, length_extra[sym]);
            int dsym = decode_symbol(s, dist);
            if (dsym < 0 || dsym >= 30) return -1;
            size_t distance = (size_t)dist_base[dsym] + take_bits(s, dist_extra[dsym]);
            if (s->failed || distance > s->out_pos || len > s->out_len - s->out_pos) return -1;
            for (size_t i = 0; i < len; i++, s->out_pos++) s->out[s->out_pos] = s->out[s->out_pos - distance];
        }
    }
}

static int inflate_stored(struct inflater *s) {
    s->bit_buf = 0; /* stored blocks start on a byte boundary */
    s->bit_count = 0;
    if (s->in_len - s->in_pos < 4) return -1;
    size_t len = (size_t)s->in[s->in_pos] | (size_t)s->in[s->in_pos + 1] << 8;
    size_t nlen = (size_t)s->in[s->in_pos + 2] | (size_t)s->in[s->in_pos + 3] << 8;
    s->in_pos += 4;
    if (len != (~nlen & 0xffff) || len > s->in_len - s->in_pos || len > s->out_len - s->out_pos) return -1;
    memcpy(s->out + s->out_pos, s->in + s->in_pos, len);
    s->in_pos += len;
    s->out_pos += len;
    return 0;
}

static int inflate_fixed(struct inflater *s) {
    static struct huffman lit, dist;
    static int ready;
    if (!ready) {
        unsigned char lengths[288];
        int i = 0;
        for (; i < 144; i++) lengths[i] = 8;
        for (; i < 256; i++) lengths[i] = 9;
        for (; i < 280; i++) lengths[i] = 7;
        for (; i < 288; i++) lengths[i] = 8;
        build_huffman(&lit, lengths, 288);
        for (i = 0; i < 30; i++) lengths[i] = 5;
        build_huffman(&dist, lengths, 30);
        ready = 1;
    }
    return inflate_codes(s, &lit, &dist);
}

static int inflate_dynamic(struct inflater *s) {
    static const unsigned char order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    unsigned char lengths[320];
    struct huffman lencode, lit, dist;
    int nlit = (int)take_bits(s, 5) + 257, ndist = (int)take_bits(s, 5) + 1, ncode = (int)take_bits(s, 4) + 4;
    if (s->failed || nlit > 286 || ndist > 30) return -1;
    memset(lengths, 0, sizeof lengths);
    for (int i = 0; i < ncode; i++) lengths[order[i]] = (unsigned char)take_bits(s, 3);
    if (s->failed || build_huffman(&lencode, lengths, 19) != 0) return -1;
    for (int i = 0; i < nlit + ndist;) {
        int sym = decode_symbol(s, &lencode);
        if (sym < 0) return -1;
        if (sym < 16) {
            lengths[i++] = (unsigned char)sym;
            continue;
        }
        int repeat;
        unsigned char value = 0;
        if (sym == 16) {
            if (i == 0) return -1;
            value = lengths[i - 1];
            repeat = 3 + (int)take_bits(s, 2);
        } else if (sym == 17) {
            repeat = 3 + (int)take_bits(s, 3);
        } else {
            repeat = 11 + (int)take_bits(s, 7);
        }
        if (s->failed || i + repeat > nlit + ndist) return -1;
        while (repeat--) lengths[i++] = value;
    }
    if (lengths[256] == 0) return -1;
    int err = build_huffman(&lit, lengths, nlit);
    if (err < 0 || (err > 0 && nlit - lit.count[0] != 1)) return -1;
    err = build_huffman(&dist, lengths + nlit, ndist);
    if (err < 0 || (err > 0 && ndist - dist.count[0] != 1)) return -1;
    return inflate_codes(s, &lit, &dist);
}

static int inflate_raw(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) {
    struct inflater s = {in, in_len, 0, out, out_len, 0, 0, 0, 0};
    int last;
    do {
        last = (int)take_bits(&s, 1);
        int type = (int)take_bits(&s, 2);
        if (s.failed) return -1;
        int err = type == 0 ? inflate_stored(&s) : type == 1 ? inflate_fixed(&s) : type == 2 ? inflate_dynamic(&s) : -1;
        if (err || s.failed) return -1;
    } while (!last);
    return s.out_pos == out_len ? 0 : -1;
}

static uint32_t crc32_of(const unsigned char *data, size_t len) {
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* ---------- self-extracting: unpack once into a cache directory ---------- */

static int safe_relative(const char *path, size_t len) {
    if (len == 0 || path[0] == '/') return 0;
    for (size_t start = 0; start < len;) {
        size_t end = start;
        while (end < len && path[end] != '/') end++;
        size_t part = end - start;
        if (part == 0 || (part == 2 && path[start] == '.' && path[start + 1] == '.')) return 0;
        start = end + 1;
    }
    return memchr(path, '\0', len) == NULL;
}

static int write_all(int fd, const unsigned char *data, size_t len) {
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int unpack_file(int dirfd, const char *path, int type, uint32_t mode, const unsigned char *data,
                       uint64_t size, uint64_t stored, uint32_t crc) {
    unsigned char *content = (unsigned char *)data;
    int ok;
    if (type == 'f') {
        content = malloc(size ? size : 1);
        ok = content && inflate_raw(data, stored, content, size) == 0;
    } else {
        ok = stored == size;
    }
    ok = ok && crc32_of(content, size) == crc;
    int fd = ok ? openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777) : -1;
    ok = fd >= 0 && write_all(fd, content, size) == 0;
    if (fd >= 0 && close(fd) < 0) ok = 0;
    if (content != data) free(content);
    return ok ? 0 : -1;
}

static int unpack(int dirfd, const unsigned char *p, uint64_t len) {
    const size_t header = 28;
    uint64_t pos = 0;
    while (pos < len) {
        if (len - pos < header) return -1;
        const unsigned char *h = p + pos;
        int type = h[0];
        size_t path_len = (size_t)h[2] | (size_t)h[3] << 8;
        uint32_t mode = le32(h + 4), crc = le32(h + 24);
        uint64_t size = le64(h + 8), stored = le64(h + 16);
        pos += header;
        if (len - pos < path_len || len - pos - path_len < stored || !safe_relative((const char *)p + pos, path_len))
            return -1;
        char path[PATH_SIZE];
        if (path_len >= sizeof path) return -1;
        memcpy(path, p + pos, path_len);
        path[path_len] = '\0';
        const unsigned char *data = p + pos + path_len;
        pos += path_len + stored;
        int err = 0;
        if (type == 'd') {
            err = mkdirat(dirfd, path, mode & 0777) < 0 && errno != EEXIST;
        } else if (type == 'l') {
            char target[PATH_SIZE];
            if (stored >= sizeof target) return -1;
            memcpy(target, data, stored);
            target[stored] = '\0';
            err = symlinkat(target, dirfd, path) < 0;
        } else if (type == 'f' || type == 'r') {
            err = unpack_file(dirfd, path, type, mode, data, size, stored, crc) < 0;
        } else {
            return -1;
        }
        if (err) return -1;
    }
    return 0;
}

static void remove_tree_at(int parent, const char *name, int depth) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlinkat(parent, name, 0);
        return;
    }
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (unlinkat(dirfd(dir), e->d_name, 0) < 0 && depth < 64) remove_tree_at(dirfd(dir), e->d_name, depth + 1);
    }
    closedir(dir);
    unlinkat(parent, name, AT_REMOVEDIR);
}

/* mkdir -p; every directory we create is private to this user. */
static int make_dirs(const char *path) {
    char buf[PATH_SIZE];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* A cache base must be a real directory owned by us that nobody else can write, on an exec mount. */
static int usable_base(const char *base) {
    struct stat st;
    struct statvfs fs;
    if (make_dirs(base) < 0 || lstat(base, &st) < 0) return 0;
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) return 0;
    if (statvfs(base, &fs) < 0 || (fs.f_flag & ST_NOEXEC)) return 0;
    return access(base, W_OK | X_OK) == 0;
}

static int unpack_into(const char *base, const char *hash, const unsigned char *payload, uint64_t size) {
    char tmp_name[256], final_name[256];
    snprintf(tmp_name, sizeof tmp_name, ".%s.%ld.tmp", hash, (long)getpid());
    snprintf(final_name, sizeof final_name, "%s", hash);
    int basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (basefd < 0) return -1;
    remove_tree_at(basefd, tmp_name, 0); /* left over by a killed start with our pid */
    int ok = mkdirat(basefd, tmp_name, 0755) == 0;
    int tmpfd = ok ? openat(basefd, tmp_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    ok = tmpfd >= 0 && unpack(tmpfd, payload, size) == 0;
    if (ok) syncfs(tmpfd); /* the rename below must never publish half-written files */
    if (tmpfd >= 0) close(tmpfd);
    /* Atomic publish: whoever renames first wins; a loser finds the winner's complete copy. */
    if (ok && renameat(basefd, tmp_name, basefd, final_name) < 0) {
        ok = errno == EEXIST || errno == ENOTEMPTY;
        remove_tree_at(basefd, tmp_name, 0);
    } else if (!ok) {
        remove_tree_at(basefd, tmp_name, 0);
    }
    close(basefd);
    return ok ? 0 : -1;
}

static void discard(const char *base, const char *hash) {
    char graveyard[256];
    int basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (basefd < 0) return;
    snprintf(graveyard, sizeof graveyard, ".%s.%ld.stale", hash, (long)getpid());
    if (renameat(basefd, hash, basefd, graveyard) == 0) remove_tree_at(basefd, graveyard, 0);
    close(basefd);
}

static int cache_bases(char bases[][PATH_SIZE]) {
    int n = 0;
    const char *env = getenv("ELFSHIP_CACHE_DIR");
    if (env && *env == '/') snprintf(bases[n++], PATH_SIZE, "%s", env);
    env = getenv("TMPDIR");
    snprintf(bases[n++], PATH_SIZE, "%s/elfship-%ld", env && *env == '/' ? env : "/tmp", (long)getuid());
    env = getenv("XDG_CACHE_HOME");
    if (env && *env == '/') snprintf(bases[n++], PATH_SIZE, "%s/elfship", env);
    env = getenv("HOME");
    if (env && *env == '/') snprintf(bases[n++], PATH_SIZE, "%s/.cache/elfship", env);
    return n;
}

struct unpacked {
    char base[PATH_SIZE];
    char dir[PATH_SIZE];
};

static void ensure_unpacked(int fd, uint64_t config_start, const struct config *c, struct unpacked *u, int force) {
    char bases[4][PATH_SIZE];
    int n = cache_bases(bases);
    if (!c->payload_hash || !*c->payload_hash || strchr(c->payload_hash, '/')) die("corrupt bundle config", NULL);
    if (c->payload_size > config_start) die("corrupt bundle payload", NULL);
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (!usable_base(bases[i])) continue;
        strcpy(u->base, bases[i]);
        join(u->dir, sizeof u->dir, bases[i], c->payload_hash);
        if (force) discard(bases[i], c->payload_hash);
        else if (stat(u->dir, &st) == 0 && S_ISDIR(st.st_mode)) return;
        size_t map_len = (size_t)config_start;
        unsigned char *map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) die("cannot map myself", strerror(errno));
        int err = unpack_into(bases[i], c->payload_hash, map + config_start - c->payload_size, c->payload_size);
        munmap(map, map_len);
        if (err == 0) return;
    }
    die("cannot unpack: no writable cache directory on a filesystem that allows exec "
        "(fix: set ELFSHIP_CACHE_DIR to such a directory)",
        bases[0]);
}

/* ---------- run the program ---------- */

static char *expand(const char *template, const char *dir) {
    const char *mark = strstr(template, "@DIR@");
    size_t size = strlen(template) + strlen(dir) + 1;
    char *out = malloc(size);
    if (!out) die("out of memory", NULL);
    if (!mark) {
        strcpy(out, template);
    } else {
        snprintf(out, size, "%.*s%s%s", (int)(mark - template), template, dir, mark + 5);
    }
    return out;
}

static char *in_dir(const char *dir, const char *path) {
    if (path[0] == '/') return (char *)path;
    char *out = malloc(strlen(dir) + strlen(path) + 2);
    if (!out) die("out of memory", NULL);
    sprintf(out, "%s/%s", dir, path);
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
    ensure_unpacked(fd, config_start, &c, &u, 0);
    launch(&c, u.dir, self, argc, argv);
    if (errno != ENOENT) die("cannot start the bundled loader", strerror(errno));
    /* The cache copy lost files (a /tmp cleaner): unpack it again, once. */
    ensure_unpacked(fd, config_start, &c, &u, 1);
    close(fd);
    launch(&c, u.dir, self, argc, argv);
    die("cannot start the bundled loader", strerror(errno));
    return EXIT_LAUNCH_FAILED;
}
