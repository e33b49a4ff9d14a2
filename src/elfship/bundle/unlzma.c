/*
 * Raw LZMA ("LZMA1", the algorithm inside .xz and .7z) decoder for the elfship launcher's self-extracting mode.
 * Not compiled alone: launcher.c includes it. archive.py writes each large file as a raw LZMA stream with the
 * fixed properties below (Python's lzma, FORMAT_RAW, FILTER_LZMA1), so no header is parsed here: a .run file
 * is about a quarter smaller than with DEFLATE (docs/bundle.md "Numbers").
 *
 * The whole file is decoded into a buffer of its known size, which is also the dictionary. Input is hostile:
 * every read past the stream's end, every distance before the start of the output and every length past its
 * end fails the decode (the caller then reports a corrupt payload); each step writes at least one byte or
 * fails, so a decode ends after at most out_len steps.
 */
#define LZMA_LC 3 /* literal context bits: must match archive.py */
#define LZMA_PB 2 /* position bits (lp is 0) */
#define LZMA_STATES 12
#define LZMA_POS_STATES (1 << LZMA_PB)

struct lzma_len {
    uint16_t choice, choice2;
    uint16_t low[LZMA_POS_STATES][8], mid[LZMA_POS_STATES][8], high[256];
};

struct lzma_probs { /* only uint16_t members: initialised as one array */
    uint16_t is_match[LZMA_STATES][LZMA_POS_STATES], is_rep0_long[LZMA_STATES][LZMA_POS_STATES];
    uint16_t is_rep[LZMA_STATES], is_rep_g0[LZMA_STATES], is_rep_g1[LZMA_STATES], is_rep_g2[LZMA_STATES];
    uint16_t pos_slot[4][64], pos_special[1 + 128 - 14], align[16];
    uint16_t literal[0x300 << LZMA_LC];
    struct lzma_len match_len, rep_len;
};

struct range_decoder {
    const unsigned char *in;
    size_t in_len, in_pos;
    uint32_t range, code;
    int failed;
};

static uint32_t rc_next(struct range_decoder *rc) {
    if (rc->in_pos >= rc->in_len) {
        rc->failed = 1;
        return 0;
    }
    return rc->in[rc->in_pos++];
}

static void rc_normalize(struct range_decoder *rc) {
    if (rc->range < (1u << 24)) {
        rc->range <<= 8;
        rc->code = (rc->code << 8) | rc_next(rc);
    }
}

static unsigned rc_bit(struct range_decoder *rc, uint16_t *prob) {
    uint32_t bound = (rc->range >> 11) * *prob;
    unsigned bit;
    if (rc->code < bound) {
        *prob += ((1u << 11) - *prob) >> 5;
        rc->range = bound;
        bit = 0;
    } else {
        *prob -= *prob >> 5;
        rc->code -= bound;
        rc->range -= bound;
        bit = 1;
    }
    rc_normalize(rc);
    return bit;
}

static uint32_t rc_direct(struct range_decoder *rc, unsigned count) {
    uint32_t result = 0;
    while (count--) {
        rc->range >>= 1;
        uint32_t bit = rc->code >= rc->range;
        if (bit) rc->code -= rc->range;
        rc_normalize(rc);
        result = (result << 1) | bit;
    }
    return result;
}

static unsigned bit_tree(struct range_decoder *rc, uint16_t *probs, unsigned bits) {
    unsigned m = 1;
    for (unsigned i = 0; i < bits; i++) m = (m << 1) | rc_bit(rc, &probs[m]);
    return m - (1u << bits);
}

static unsigned bit_tree_reverse(struct range_decoder *rc, uint16_t *probs, unsigned bits) {
    unsigned m = 1, symbol = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned bit = rc_bit(rc, &probs[m]);
        m = (m << 1) | bit;
        symbol |= bit << i;
    }
    return symbol;
}

static unsigned lzma_length(struct range_decoder *rc, struct lzma_len *len, unsigned pos_state) {
    if (!rc_bit(rc, &len->choice)) return bit_tree(rc, len->low[pos_state], 3);
    if (!rc_bit(rc, &len->choice2)) return 8 + bit_tree(rc, len->mid[pos_state], 3);
    return 16 + bit_tree(rc, len->high, 8);
}

static uint32_t lzma_distance(struct range_decoder *rc, struct lzma_probs *p, unsigned len) {
    unsigned slot = bit_tree(rc, p->pos_slot[len < 3 ? len : 3], 6);
    if (slot < 4) return slot;
    unsigned direct = (slot >> 1) - 1;
    uint32_t dist = (2u | (slot & 1)) << direct;
    if (slot < 14) return dist + bit_tree_reverse(rc, p->pos_special + dist - slot, direct);
    dist += rc_direct(rc, direct - 4) << 4;
    return dist + bit_tree_reverse(rc, p->align, 4);
}

static void lzma_literal(struct range_decoder *rc, struct lzma_probs *p, unsigned char *out, size_t pos,
                         unsigned state, uint32_t rep0) {
    unsigned previous = pos ? out[pos - 1] : 0;
    uint16_t *probs = &p->literal[0x300 * (previous >> (8 - LZMA_LC))];
    unsigned symbol = 1;
    if (state >= 7) { /* after a match: the byte at rep0 predicts this one (rep0 < pos, checked) */
        unsigned match = out[pos - rep0 - 1];
        do {
            unsigned match_bit = (match >> 7) & 1;
            match <<= 1;
            unsigned bit = rc_bit(rc, &probs[((1 + match_bit) << 8) + symbol]);
            symbol = (symbol << 1) | bit;
            if (match_bit != bit) break;
        } while (symbol < 0x100);
    }
    while (symbol < 0x100) symbol = (symbol << 1) | rc_bit(rc, &probs[symbol]);
    out[pos] = (unsigned char)symbol;
}

/* Decode a raw LZMA stream of exactly out_len bytes; 0 on success, -1 on any damage. */
static int unlzma_raw(const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) {
    static struct lzma_probs p; /* 15 KB: not on the stack; the launcher is single-threaded */
    uint16_t *all = (uint16_t *)&p;
    for (size_t i = 0; i < sizeof p / sizeof *all; i++) all[i] = 1u << 10;
    struct range_decoder rc = {in, in_len, 0, 0xFFFFFFFFu, 0, 0};
    if (rc_next(&rc) != 0) return -1; /* an LZMA stream starts with a zero byte */
    for (int i = 0; i < 4; i++) rc.code = (rc.code << 8) | rc_next(&rc);
    if (rc.failed || rc.code == rc.range) return -1;
    uint32_t rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0;
    unsigned state = 0;
    size_t pos = 0;
    while (pos < out_len && !rc.failed) {
        unsigned pos_state = pos & (LZMA_POS_STATES - 1);
        if (!rc_bit(&rc, &p.is_match[state][pos_state])) {
            lzma_literal(&rc, &p, out, pos++, state, rep0);
            state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
            continue;
        }
        unsigned len;
        if (rc_bit(&rc, &p.is_rep[state])) {
            if (pos == 0) return -1;
            if (!rc_bit(&rc, &p.is_rep_g0[state])) {
                if (!rc_bit(&rc, &p.is_rep0_long[state][pos_state])) { /* one byte from rep0 */
                    if (rep0 >= pos) return -1;
                    state = state < 7 ? 9 : 11;
                    out[pos] = out[pos - rep0 - 1];
                    pos++;
                    continue;
                }
            } else {
                uint32_t dist;
                if (!rc_bit(&rc, &p.is_rep_g1[state])) {
                    dist = rep1;
                } else {
                    if (!rc_bit(&rc, &p.is_rep_g2[state])) {
                        dist = rep2;
                    } else {
                        dist = rep3;
                        rep3 = rep2;
                    }
                    rep2 = rep1;
                }
                rep1 = rep0;
                rep0 = dist;
            }
            len = lzma_length(&rc, &p.rep_len, pos_state);
            state = state < 7 ? 8 : 11;
        } else {
            rep3 = rep2;
            rep2 = rep1;
            rep1 = rep0;
            len = lzma_length(&rc, &p.match_len, pos_state);
            state = state < 7 ? 7 : 10;
            rep0 = lzma_distance(&rc, &p, len);
            if (rep0 == 0xFFFFFFFFu) return -1; /* the end marker before all the bytes were there */
        }
        len += 2;
        if (rep0 >= pos || len > out_len - pos) return -1;
        for (unsigned i = 0; i < len; i++, pos++) out[pos] = out[pos - rep0 - 1];
    }
    return rc.failed || pos != out_len ? -1 : 0;
}

/*
 * Undo the x86 BCJ filter archive.py puts before LZMA (Python's lzma FILTER_X86, start offset 0): the
 * encoder turned the relative targets of CALL (E8) and JMP (E9) into absolute ones, which repeat across a
 * library and so compress better; this turns them back. Same state machine as liblzma's simple/x86.c, run
 * over the whole file at once. Touches only bytes inside the buffer; any input is "valid" here (the CRC of
 * the result is what catches damage).
 */
static int bcj_x86_msbyte(uint8_t b) { return b == 0x00 || b == 0xFF; }

static void bcj_x86_decode(unsigned char *buf, size_t size) {
    static const int allowed[8] = {1, 1, 1, 0, 1, 0, 0, 0};
    static const unsigned bit_num[8] = {0, 1, 2, 2, 3, 3, 3, 3};
    size_t prev_pos = (size_t)-1;
    uint32_t prev_mask = 0;
    if (size <= 4) return;
    size -= 4;
    for (size_t i = 0; i < size; ++i) {
        if ((buf[i] & 0xFE) != 0xE8) continue;
        prev_pos = i - prev_pos;
        if (prev_pos > 3) {
            prev_mask = 0;
        } else {
            prev_mask = (prev_mask << (prev_pos - 1)) & 7;
            if (prev_mask != 0) {
                uint8_t b = buf[i + 4 - bit_num[prev_mask]];
                if (!allowed[prev_mask] || bcj_x86_msbyte(b)) {
                    prev_pos = i;
                    prev_mask = (prev_mask << 1) | 1;
                    continue;
                }
            }
        }
        prev_pos = i;
        if (bcj_x86_msbyte(buf[i + 4])) {
            uint32_t src = le32(buf + i + 1), dest;
            for (;;) {
                dest = src - ((uint32_t)i + 5);
                if (prev_mask == 0) break;
                unsigned j = bit_num[prev_mask] * 8;
                uint8_t b = (uint8_t)(dest >> (24 - j));
                if (!bcj_x86_msbyte(b)) break;
                src = dest ^ ((1u << (32 - j)) - 1);
            }
            dest &= 0x01FFFFFF;
            dest |= 0u - (dest & 0x01000000);
            buf[i + 1] = (unsigned char)dest;
            buf[i + 2] = (unsigned char)(dest >> 8);
            buf[i + 3] = (unsigned char)(dest >> 16);
            buf[i + 4] = (unsigned char)(dest >> 24);
            i += 4;
        } else {
            prev_mask = (prev_mask << 1) | 1;
        }
    }
}
