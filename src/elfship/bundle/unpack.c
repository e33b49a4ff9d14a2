/*
 * Self-extracting mode of the elfship launcher: find a cache base, unpack the payload there once, atomically.
 * Not compiled alone: launcher.c includes it after its helpers (die, join, le32, struct config).
 *
 * The payload is input, not code: a tampered or damaged one must never write outside the private temporary
 * directory it is unpacked into. So every entry path is relative with plain components, nothing is ever
 * created through a symlink (each parent is opened with O_NOFOLLOW), a symlink entry must point inside the
 * bundle, and every file's CRC is checked before it is written. Any of these failing is UNPACK_CORRUPT, told
 * to the user as such; a full or read-only filesystem is UNPACK_IO and the next cache base is tried.
 *
 * Solid blocks ('X' entries) hold the contents of the 's' file entries after them, one after the other, in
 * one LZMA stream: libraries share code and tables, so one stream is smaller than one per file. A block is
 * decoded whole (at most MAX_LZMA_RATIO times its stored size, and archive.py keeps it under 32 MiB) before
 * its files are taken from it in order; each file still has its own CRC, checked before it is written, and a
 * block must be used up exactly (every decoded byte belongs to a checked file) before the next or the end.
 */
enum { UNPACK_OK = 0, UNPACK_IO = -1, UNPACK_CORRUPT = -2 };

/* DEFLATE cannot expand more than 1032:1; a header claiming more is damage, not a reason to malloc. LZMA can,
 * so archive.py writes an LZMA entry only up to the same ratio, and more is damage here too. */
#define MAX_DEFLATE_RATIO 1032
#define MAX_LZMA_RATIO 1032

/* A relative path of plain components: not empty, no leading '/', no "", "." or ".." component, no NUL. */
static int safe_relative(const char *path, size_t len) {
    if (len == 0 || path[0] == '/' || memchr(path, '\0', len)) return 0;
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && path[end] != '/') end++;
        size_t part = end - start;
        if (part == 0 || (part == 1 && path[start] == '.') ||
            (part == 2 && path[start] == '.' && path[start + 1] == '.'))
            return 0;
        start = end + 1;
    }
    return 1;
}

/*
 * A symlink may point only inside the bundle: relative, its ".." components all leading and no more of them
 * than the link has parent directories, then plain components. Checked lexically, which is exact here because
 * no entry is ever created under a symlink (so a link's parents are real directories). The one absolute
 * target allowed is the target system's own loader named in the config (a bundle made without glibc).
 */
static int safe_link_target(const char *link, const char *target, const char *loader) {
    if (target[0] == '/') return loader && loader[0] == '/' && !strcmp(target, loader);
    size_t depth = 0, ups = 0;
    for (const char *p = link; *p; p++) depth += *p == '/';
    const char *rest = target;
    while (rest[0] == '.' && rest[1] == '.' && (rest[2] == '/' || rest[2] == '\0')) {
        ups++;
        rest += rest[2] ? 3 : 2;
    }
    if (ups > depth) return 0;
    return *rest == '\0' ? ups > 0 : safe_relative(rest, strlen(rest));
}

/* An errno from creating an entry in our fresh private directory: the payload's fault, or the disk's? */
static int failure_kind(int err) {
    switch (err) {
    case EEXIST: case ELOOP: case ENOTDIR: case ENOENT: case EISDIR: case ENAMETOOLONG: case EINVAL:
        return UNPACK_CORRUPT; /* a duplicate, a path through a non-directory, a name no filesystem takes */
    default:
        return UNPACK_IO; /* ENOSPC, EROFS, EDQUOT, EACCES...: another base may do */
    }
}

/* Open the directory holding `path` (a safe_relative path) below rootfd without following any symlink, and
 * point *leaf at the last component. Returns the fd (rootfd itself for a top-level entry) or -1. */
static int open_parent(int rootfd, char *path, const char **leaf) {
    int fd = rootfd;
    char *part = path;
    for (char *slash; (slash = strchr(part, '/')); part = slash + 1) {
        *slash = '\0';
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        int saved = errno;
        if (fd != rootfd) close(fd);
        errno = saved;
        if (next < 0) return -1;
        fd = next;
    }
    *leaf = part;
    return fd;
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

/* The solid block being read: its decoded bytes, and how many of them the files before took. */
struct block {
    unsigned char *data;
    uint64_t size, used;
};

/* Decode an 'X' entry into *b; the previous block must have been used up. */
static int open_block(struct block *b, const unsigned char *data, uint64_t size, uint64_t stored) {
    if (b->used != b->size) return UNPACK_CORRUPT;
    free(b->data);
    b->data = NULL;
    b->size = b->used = 0;
    if (size == 0 || size / MAX_LZMA_RATIO > stored + 1 || size > (uint64_t)SIZE_MAX - 1) return UNPACK_CORRUPT;
    b->data = malloc((size_t)size);
    if (!b->data) die("out of memory unpacking the payload", NULL);
    b->size = size;
    if (unlzma_raw(data, (size_t)stored, b->data, (size_t)size)) return UNPACK_CORRUPT;
    bcj_x86_decode(b->data, (size_t)size);
    return UNPACK_OK;
}

/* Decode and check a file's content before anything is written: a CRC or DEFLATE error is UNPACK_CORRUPT.
 * *content is malloc'ed for 'f' and 'x', points into the payload for 'r' and into the block for 's'. */
static int file_content(int type, const unsigned char *data, uint64_t size, uint64_t stored, uint32_t crc,
                        struct block *b, unsigned char **content) {
    *content = (unsigned char *)data;
    if (type == 'r' && stored != size) return UNPACK_CORRUPT;
    if (type == 's') { /* the next `size` bytes of the open block */
        if (stored != 0 || !b->data || size > b->size - b->used) return UNPACK_CORRUPT;
        *content = b->data + b->used;
        b->used += size;
    }
    if (type == 'f' || type == 'x') {
        uint64_t ratio = type == 'f' ? MAX_DEFLATE_RATIO : MAX_LZMA_RATIO;
        *content = NULL; /* the caller frees it */
        if (size / ratio > stored + 1 || size > (uint64_t)SIZE_MAX - 1) return UNPACK_CORRUPT;
        *content = malloc(size ? (size_t)size : 1);
        if (!*content) die("out of memory unpacking the payload", NULL);
        int failed = type == 'f' ? inflate_raw(data, (size_t)stored, *content, (size_t)size)
                                 : unlzma_raw(data, (size_t)stored, *content, (size_t)size);
        if (failed) return UNPACK_CORRUPT;
        if (type == 'x') bcj_x86_decode(*content, (size_t)size);
    }
    return crc32_of(*content, (size_t)size) == crc ? UNPACK_OK : UNPACK_CORRUPT;
}

static int unpack_file(int dirfd, const char *name, int type, uint32_t mode, const unsigned char *data,
                       uint64_t size, uint64_t stored, uint32_t crc, struct block *b) {
    unsigned char *content;
    int result = file_content(type, data, size, stored, crc, b, &content);
    if (result == UNPACK_OK) {
        /* O_EXCL never follows a symlink and never reuses a file: each path is written once, by us. */
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
        if (fd < 0) {
            result = failure_kind(errno);
        } else {
            if (write_all(fd, content, (size_t)size) < 0) result = UNPACK_IO;
            if (close(fd) < 0) result = UNPACK_IO;
        }
    }
    if (type == 'f' || type == 'x') free(content);
    return result;
}

struct entry {
    int type;
    uint32_t mode, crc;
    uint64_t size, stored;
    char path[PATH_SIZE];
    const unsigned char *data;
};

/* Decode the entry header at *pos and move past the entry; UNPACK_CORRUPT when it does not fit or is unsafe. */
static int next_entry(const unsigned char *p, uint64_t len, uint64_t *pos, struct entry *e) {
    const size_t header = 28;
    if (len - *pos < header) return UNPACK_CORRUPT;
    const unsigned char *h = p + *pos;
    size_t path_len = (size_t)h[2] | (size_t)h[3] << 8;
    e->type = h[0];
    e->mode = le32(h + 4);
    e->size = le64(h + 8);
    e->stored = le64(h + 16);
    e->crc = le32(h + 24);
    *pos += header;
    if (len - *pos < path_len || len - *pos - path_len < e->stored || path_len >= sizeof e->path)
        return UNPACK_CORRUPT;
    /* A solid block has no path; every other entry a safe one. */
    if (e->type == 'X' ? path_len != 0 : !safe_relative((const char *)p + *pos, path_len)) return UNPACK_CORRUPT;
    memcpy(e->path, p + *pos, path_len);
    e->path[path_len] = '\0';
    e->data = p + *pos + path_len;
    *pos += path_len + e->stored;
    return UNPACK_OK;
}

static int unpack_entry(int rootfd, struct entry *e, const char *loader, struct block *b) {
    if (e->type == 'X') return open_block(b, e->data, e->size, e->stored);
    const char *leaf;
    int dirfd = open_parent(rootfd, e->path, &leaf);
    if (dirfd < 0) return failure_kind(errno);
    int result = UNPACK_OK;
    if (e->type == 'd') {
        if (mkdirat(dirfd, leaf, (e->mode & 0777) | 0700) < 0) result = failure_kind(errno);
    } else if (e->type == 'l') {
        char target[PATH_SIZE];
        if (e->stored >= sizeof target || e->stored == 0 || memchr(e->data, '\0', (size_t)e->stored)) {
            result = UNPACK_CORRUPT;
        } else {
            memcpy(target, e->data, (size_t)e->stored);
            target[e->stored] = '\0';
            if (crc32_of(e->data, (size_t)e->stored) != e->crc || !safe_link_target(e->path, target, loader))
                result = UNPACK_CORRUPT;
            else if (symlinkat(target, dirfd, leaf) < 0)
                result = failure_kind(errno);
        }
    } else if (e->type == 'f' || e->type == 'x' || e->type == 'r' || e->type == 's') {
        result = unpack_file(dirfd, leaf, e->type, e->mode, e->data, e->size, e->stored, e->crc, b);
    } else {
        result = UNPACK_CORRUPT;
    }
    if (dirfd != rootfd) close(dirfd);
    return result;
}

static int unpack(int rootfd, const unsigned char *p, uint64_t len, const char *loader) {
    static struct entry e; /* 4 KB path: not on the stack */
    struct block b = {NULL, 0, 0};
    int result = UNPACK_OK;
    for (uint64_t pos = 0; pos < len && result == UNPACK_OK;) {
        result = next_entry(p, len, &pos, &e);
        if (result == UNPACK_OK) result = unpack_entry(rootfd, &e, loader, &b);
    }
    if (result == UNPACK_OK && b.used != b.size) result = UNPACK_CORRUPT; /* bytes no file claimed */
    free(b.data);
    return result;
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

/* mkdir -p for the parents of a base (e.g. ~/.cache); every directory we create is private to this user. */
static int make_parents(const char *path) {
    char buf[PATH_SIZE];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

/*
 * Open a cache base, or -1 when it is not safely ours. Another local user can plant anything at a path in a
 * shared /tmp before our first start: a symlink to a directory of theirs (or of ours), a directory of theirs,
 * a directory anyone can write. So: mkdir it private (0700), then open it with O_NOFOLLOW and check what was
 * opened (fstat, not a second lookup by name): a directory, owned by us, that group and others cannot write,
 * exactly 0700 when we just made it, on a mount that allows exec. Everything after works through this fd.
 */
static int open_base(const char *base) {
    struct stat st;
    struct statvfs fs;
    if (make_parents(base) < 0) return -1;
    int created = mkdir(base, 0700) == 0;
    if (!created && errno != EEXIST) return -1;
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    int ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022) &&
             (st.st_mode & 0700) == 0700 && (!created || (st.st_mode & 07777) == 0700) &&
             fstatvfs(fd, &fs) == 0 && !(fs.f_flag & ST_NOEXEC);
    if (!ok) close(fd);
    return ok ? fd : -1;
}

/* Unpack into .HASH.PID.tmp, then rename it to HASH: nobody ever sees a half-unpacked directory. */
static int unpack_into(int basefd, const char *hash, const unsigned char *payload, uint64_t size,
                       const char *loader) {
    char tmp_name[256], pid[24];
    CONCAT(tmp_name, sizeof tmp_name, ".", hash, ".", decimal((unsigned long)getpid(), pid), ".tmp");
    remove_tree_at(basefd, tmp_name, 0); /* left over by a killed start with our pid */
    if (mkdirat(basefd, tmp_name, 0700) < 0) return UNPACK_IO;
    int tmpfd = openat(basefd, tmp_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int result = tmpfd < 0 ? UNPACK_IO : unpack(tmpfd, payload, size, loader);
    if (result == UNPACK_OK) syncfs(tmpfd); /* the rename below must never publish half-written files */
    if (tmpfd >= 0) close(tmpfd);
    /* Atomic publish: whoever renames first wins; a loser finds the winner's complete copy. */
    if (result == UNPACK_OK && renameat(basefd, tmp_name, basefd, hash) < 0)
        result = errno == EEXIST || errno == ENOTEMPTY ? UNPACK_OK : UNPACK_IO;
    remove_tree_at(basefd, tmp_name, 0); /* nothing there after a successful rename */
    return result;
}

static void discard(int basefd, const char *hash) {
    char graveyard[256], pid[24];
    CONCAT(graveyard, sizeof graveyard, ".", hash, ".", decimal((unsigned long)getpid(), pid), ".stale");
    if (renameat(basefd, hash, basefd, graveyard) == 0) remove_tree_at(basefd, graveyard, 0);
}

/* A base whose path does not fit is not a candidate (never a truncated path). */
static int cache_bases(char bases[][PATH_SIZE]) {
    int n = 0;
    char uid[24];
    const char *env = getenv("ELFSHIP_CACHE_DIR");
    if (env && *env == '/') n += CONCAT(bases[n], PATH_SIZE, env) == 0;
    env = getenv("TMPDIR");
    n += CONCAT(bases[n], PATH_SIZE, env && *env == '/' ? env : "/tmp", "/elfship-",
                decimal((unsigned long)getuid(), uid)) == 0;
    env = getenv("XDG_CACHE_HOME");
    if (env && *env == '/') n += CONCAT(bases[n], PATH_SIZE, env, "/elfship") == 0;
    env = getenv("HOME");
    if (env && *env == '/') n += CONCAT(bases[n], PATH_SIZE, env, "/.cache/elfship") == 0;
    return n;
}

struct unpacked {
    char base[PATH_SIZE];
    char dir[PATH_SIZE];
};

static void corrupt_payload(const char *self) {
    say((const char *const[]){"elfship launcher: corrupt payload in ", self,
                              ": a CRC, decompression or entry check failed, nothing was run "
                              "(fix: download the bundle again, or rebuild it with elfship bundle)",
                              NULL});
    exit(EXIT_LAUNCH_FAILED);
}

static void ensure_unpacked(int fd, uint64_t config_start, const struct config *c, const char *self,
                            struct unpacked *u, int force) {
    char bases[4][PATH_SIZE];
    int n = cache_bases(bases);
    if (!c->payload_hash || !*c->payload_hash || strchr(c->payload_hash, '/') || c->payload_hash[0] == '.')
        corrupt_payload(self);
    if (c->payload_size > config_start) corrupt_payload(self);
    for (int i = 0; i < n; i++) {
        struct stat st;
        int basefd = open_base(bases[i]);
        if (basefd < 0) continue;
        strcpy(u->base, bases[i]);
        join(u->dir, sizeof u->dir, bases[i], c->payload_hash);
        if (force) discard(basefd, c->payload_hash);
        else if (fstatat(basefd, c->payload_hash, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            close(basefd);
            return;
        }
        size_t map_len = (size_t)config_start;
        unsigned char *map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) die("cannot map myself", strerror(errno));
        int result = unpack_into(basefd, c->payload_hash, map + config_start - c->payload_size, c->payload_size,
                                 c->loader);
        munmap(map, map_len);
        close(basefd);
        if (result == UNPACK_CORRUPT) corrupt_payload(self);
        if (result == UNPACK_OK) return;
    }
    die("cannot unpack: no writable cache directory on a filesystem that allows exec "
        "(fix: set ELFSHIP_CACHE_DIR to such a directory)",
        bases[0]);
}
