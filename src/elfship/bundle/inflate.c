/*
 * Raw DEFLATE (RFC 1951) decoder and CRC-32 for the elfship launcher's self-extracting mode.
 * Not compiled alone: launcher.c includes it (one translation unit, so the launcher stays one static file).
 * Decodes a whole stream into a buffer of known size; used once, on the first start of a .run file.
 */
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

