/*
 * Self-extracting mode of the elfship launcher: find a cache base, unpack the payload there once, atomically.
 * Not compiled alone: launcher.c includes it after its helpers (die, join, le32, struct config).
 */
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

