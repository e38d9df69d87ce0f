/* encoder_hash.c - the "hash" encoder: Logify's embedded default, which
 * needs no downloaded weights.
 *
 * message --normalise--> tokens --hash--> sparse row (CSR), per message:
 *   1. normalise: ASCII lower case; mask UUIDs, IPv4 addresses (with port),
 *      paths (/a/b, C:\a, URLs after "scheme:"), hex ids (0x.., or >= 8 hex
 *      digits with a digit in them), numbers (with decimals) and short
 *      quoted names ('x', "x" without blanks) into placeholder tokens
 *      <uuid> <ip> <path> <hex> <num> <q>; digit runs inside other words
 *      become one '0' (User123 -> user0); everything else not a letter,
 *      digit, '_' or non-ASCII byte separates tokens;
 *   2. features: word unigrams, word bigrams, and character 3..5-grams of
 *      each word padded with a blank on both sides (placeholders get word
 *      features only), each hashed (FNV-1a + a 64-bit finaliser, seeded)
 *      into [0, dim);
 *   3. weight: 1 + ln(tf) per distinct feature, then the row is scaled to
 *      unit L2 norm.
 * Only the first LG_HASH_MAX_BYTES bytes of a message are read. Per-thread
 * scratch holds the token list and a stamped open-addressing table, so the
 * steady state allocates nothing per message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/encoder.h"
#include "model/encoder_impl.h"

#define LG_HASH_MAX_BYTES 4096 /* bytes of a message that are encoded */
#define HASH_DEFAULT_DIM (1u << 15)
#define HASH_DEFAULT_SEED 1u
#define HASH_NORM_VERSION 2 /* bump when normalisation or features change */
#define RAW_MAX 64          /* bytes of a masked token's own text that are hashed */
#define HASH_POS_MAX 32 /* pos=N: at most this many tokens from each end */
#define CHAR_MIN 3
#define CHAR_MAX 5
/* distinct features of one message are at most 5 per byte read + 1:
 * 1 unigram, 1 bigram, 3 char grams per byte (see encode_one) */
#define FEATS_PER_BYTE 5
#define TABLE_MAX (1u << 16) /* >= 2 * (5 * 4096 + 1), power of 2 */

typedef struct {
    uint32_t dim; /* power of two */
    uint32_t seed;
    int text;     /* text=1: masked tokens keep their own text as a feature */
    int pos;      /* pos=N: the first and last N tokens also with their position */
    int path;     /* path=1: a masked path also adds the hash of its shape */
    int hdr;      /* hdr=1: a line's header (timestamp, level, pid, component) is
                     recognised and its words hashed apart from the message's */
} hash_ctx;

/* a token of the normalised message */
typedef struct {
    uint32_t off, len; /* word text in scratch->norm; len 0 for placeholders */
    uint64_t h;        /* hash of the word or placeholder */
    uint64_t raw;      /* hash of the token's own lower-cased text when masking
                          changed it (placeholder, digits folded), else 0 */
    uint64_t shape;    /* a path's shape (path_shape), else 0 */
} token;

/* Per-token features (unigram + char grams) of recently seen words: logs
 * repeat their words, so most tokens skip the n-gram hashing. Keyed by the
 * word's exact text; words longer than CACHE_TOK bytes are not cached. */
#define CACHE_N 1024
#define CACHE_TOK 16
#define TOKEN_FEATS(len) (1 + 3 * (len)) /* unigram + 3..5-grams of " w " */
typedef struct {
    uint32_t len; /* 0 = empty slot */
    uint32_t nf;
    char text[CACHE_TOK];
    uint32_t feats[TOKEN_FEATS(CACHE_TOK)]; /* feature indices, < dim */
} cache_entry;

typedef struct {
    char norm[LG_HASH_MAX_BYTES * 2 + 8]; /* " tok tok ... " lower-cased words */
    cache_entry cache[CACHE_N];
    uint32_t tmp_feats[TOKEN_FEATS(LG_HASH_MAX_BYTES)]; /* an uncached word's */
    token toks[LG_HASH_MAX_BYTES + 1];
    struct {
        uint32_t stamp; /* entry valid when == gen */
        uint32_t key;   /* feature index */
        uint32_t slot;  /* position in the row being built */
    } table[TABLE_MAX]; /* one cache line per probe */
    uint32_t gen;
    int want_shape;    /* path=1: path placeholders get their shape */
    float log_tf[256]; /* 1 + ln(tf) */
} hash_scratch;

/* ---- Hashing ----------------------------------------------------------------- */

#define FNV_OFF 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static inline uint64_t mix64(uint64_t h) { /* murmur3 finaliser */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t fnv_bytes(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
    return h;
}

/* kinds of feature, mixed into the hash so that they never share a bucket
 * on purpose */
enum { K_WORD = 0x57, K_BIGRAM = 0x42, K_CHAR = 0x43, K_RAW = 0x52, K_POS = 0x50, K_HDR = 0x48, K_PATH = 0x54 };

/* hash of a masked token's own text, lower-cased, at most RAW_MAX bytes;
 * never 0 */
static uint64_t raw_hash(const unsigned char *p, size_t n, uint64_t seed) {
    uint64_t h = FNV_OFF ^ (seed * K_RAW);
    for (size_t i = 0; i < n && i < RAW_MAX; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c | 0x20);
        h = (h ^ c) * FNV_PRIME;
    }
    return h ? h : 1;
}

/* ---- Normalisation ------------------------------------------------------------ */

enum { PH_NUM = 1, PH_HEX, PH_UUID, PH_IP, PH_PATH, PH_QUOTE };
static const char *const ph_names[] = {"", "<num>", "<hex>", "<uuid>", "<ip>", "<path>", "<q>"};

/* byte classes: digits are DIGIT|HEX|WORD; letters ALPHA|WORD (a-f, A-F
 * also HEX); '_' and every non-ASCII byte WORD (UTF-8 kept as bytes);
 * blanks (space, \t \n \v \f \r) BLANK. */
enum { C_DIGIT = 1, C_HEX = 2, C_ALPHA = 4, C_WORD = 8, C_BLANK = 16 };
/* byte classes (generated from the rules above; one lookup each) */
/* clang-format off */
static const unsigned char classes[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0, 16, 16, 16, 16, 16,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    16,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    11, 11, 11, 11, 11, 11, 11, 11, 11, 11,  0,  0,  0,  0,  0,  0,
     0, 14, 14, 14, 14, 14, 14, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,  0,  0,  0,  0,  8,
     0, 14, 14, 14, 14, 14, 14, 12, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,  0,  0,  0,  0,  0,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
     8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
};
/* clang-format on */
static inline int is_digit(unsigned char c) {
    return (classes[c] & C_DIGIT) != 0;
}
static inline int is_hex(unsigned char c) {
    return (classes[c] & C_HEX) != 0;
}
static inline int is_alpha(unsigned char c) {
    return (classes[c] & C_ALPHA) != 0;
}
static inline int is_word(unsigned char c) {
    return (classes[c] & C_WORD) != 0;
}
static inline int is_blank(unsigned char c) {
    return (classes[c] & C_BLANK) != 0;
}

/* 8-4-4-4-12 hex digits at s[i..], not followed by a word byte */
static size_t match_uuid(const unsigned char *s, size_t i, size_t n) {
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t j = i;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, j++)
            if (j >= n || !is_hex(s[j])) return 0;
        if (g < 4) {
            if (j >= n || s[j] != '-') return 0;
            j++;
        }
    }
    if (j < n && is_word(s[j])) return 0;
    return j - i;
}

/* d.d.d.d (1-3 digits each) with an optional :port */
static size_t match_ip(const unsigned char *s, size_t i, size_t n) {
    size_t j = i;
    for (int part = 0; part < 4; part++) {
        size_t k = 0;
        while (j < n && is_digit(s[j]) && k < 4)
            j++, k++;
        if (k == 0 || k > 3) return 0;
        if (part < 3) {
            if (j >= n || s[j] != '.') return 0;
            j++;
        }
    }
    if (j < n && (is_word(s[j]) || (s[j] == '.' && j + 1 < n && is_digit(s[j + 1])))) return 0;
    if (j + 1 < n && s[j] == ':' && is_digit(s[j + 1])) {
        j++;
        while (j < n && is_digit(s[j]))
            j++;
    }
    return j - i;
}

/* a path runs to the next blank, quote or closing bracket */
static size_t path_end(const unsigned char *s, size_t j, size_t n) {
    while (j < n && !is_blank(s[j]) && s[j] != '"' && s[j] != '\'' && s[j] != ')' && s[j] != ']' &&
           s[j] != '>' && s[j] != ',' && s[j] != ';')
        j++;
    return j;
}

/* can a path or quoted name start after byte p? */
static inline int opens_after(unsigned char p) {
    return is_blank(p) || p == '"' || p == '\'' || p == '(' || p == '[' || p == '=' || p == ':' ||
           p == '<' || p == ',';
}

/* appends a token; words are written lower-cased into norm (" w1 w2 ") */
static void push_word(hash_scratch *sc, size_t *nt, size_t *nn, const unsigned char *w, size_t len,
                      uint64_t seed) {
    token *t = &sc->toks[(*nt)++];
    t->off = (uint32_t)*nn;
    t->raw = 0;
    t->shape = 0;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = w[i];
        if (is_digit(c)) { /* a digit run inside a word becomes one '0' */
            if (k && sc->norm[*nn + k - 1] == '0' && i && is_digit(w[i - 1])) continue;
            c = '0';
            t->raw = 1; /* the word had digits: keep its own text too */
        } else if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c | 0x20);
        }
        sc->norm[*nn + k++] = (char)c;
    }
    t->len = (uint32_t)k;
    t->h = fnv_bytes(FNV_OFF ^ seed, sc->norm + *nn, k);
    if (t->raw) t->raw = raw_hash(w, len, seed);
    *nn += k;
    sc->norm[(*nn)++] = ' ';
}

/* The shape of a path: its text lower-cased, each digit run one '0', and
 * each '/'-separated part of 8 bytes or more made of hex digits and '-'
 * with a digit among them (a UUID, a hash, a tenant id) one '#'. A template whose path is a constant
 * ("GET /openstack/2013-10-17/meta_data.json" vs "GET /v2/<id>/servers/
 * detail") keeps it; a path drawn per line gives a shape per line, which
 * the purity weights count as a variable. Never 0. */
static uint64_t path_shape(const unsigned char *p, size_t n, uint64_t seed) {
    uint64_t h = FNV_OFF ^ (seed * K_PATH);
    size_t i = 0;
    while (i < n && i < 4 * RAW_MAX) {
        size_t e = i + 1; /* a part: p[i] is its first byte ('/' or '\\' or the start) */
        while (e < n && p[e] != '/' && p[e] != '\\')
            e++;
        size_t digits = 0, idlike = 0; /* hex digits and '-' */
        for (size_t k = i + 1; k < e; k++) {
            digits += (size_t)is_digit(p[k]);
            idlike += (size_t)(is_hex(p[k]) || p[k] == '-');
        }
        if (digits && e - i > 8 && idlike == e - i - 1) {
            h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
            h = (h ^ '#') * FNV_PRIME;
        } else {
            for (size_t k = i; k < e; k++) {
                unsigned char c = p[k];
                if (is_digit(c)) {
                    if (k > i && is_digit(p[k - 1])) continue;
                    c = '0';
                } else if (c >= 'A' && c <= 'Z') {
                    c = (unsigned char)(c | 0x20);
                }
                h = (h ^ c) * FNV_PRIME;
            }
        }
        i = e;
    }
    return h ? h : 1;
}

/* a placeholder for the masked text raw[0..rlen) (kept as a feature of its
 * own beside the placeholder, so lines that differ only there stay apart) */
static void push_placeholder(hash_scratch *sc, size_t *nt, int ph, uint64_t seed,
                             const unsigned char *raw, size_t rlen) {
    token *t = &sc->toks[(*nt)++];
    t->off = 0;
    t->len = 0;
    t->h = fnv_bytes(FNV_OFF ^ seed, ph_names[ph], strlen(ph_names[ph]));
    /* only short numbers (status and error codes: "code 13" vs "code 14")
     * and quoted names: ids, addresses, paths and long numbers are the
     * variable part of a line and would only add noise */
    t->raw = (ph == PH_NUM && rlen <= 3) || ph == PH_QUOTE ? raw_hash(raw, rlen, seed) : 0;
    t->shape = ph == PH_PATH && sc->want_shape ? path_shape(raw, rlen, seed) : 0;
    /* (a number inside a time or date comes with rlen > RAW_MAX: no text) */
}

/* ---- Headers ------------------------------------------------------------------ */
/* A log line often starts with a header written by the logging framework
 * (timestamp, level, pid, host, thread, component) before the message. Its
 * words name where the line came from, not what it says, and they vary
 * from line to line of one kind ("kernel:", "ntpd[4242]:", "storage.
 * BlockManager:"); the same word in the message may be what tells two kinds
 * apart ("... for ntpd"). With hdr=1 the header's tokens get features of
 * their own (K_HDR unigrams only, valued HDR_WEIGHT before the norm) and the
 * positional features count from the message's first token. Recognised by shape alone, per line:
 *   1. a date or time within the line's first HDR_TS_FIELDS blank-separated
 *      fields, not inside a path, (hh:mm:ss, yyyy-mm-dd, yyyy.mm.dd, yy/mm/dd,
 *      "yymmdd hhmmss", "yyyymmdd-"), or a bracketed level word first
 *      ("[INFO] "); without either, only HPC's date-less shape is a header
 *      (an epoch time as the 3rd to 6th field and a 1-2 digit flag after
 *      it: the header ends with the flag, header_epoch); else none;
 *   2. the header ends at the first terminator, outside brackets, after a
 *      letter: ": ", "] ", " - " or "|"; after a level word (INFO, WARN,
 *      Error, ...) it must come within the next 2 fields (a bracketed group
 *      is one field), else the header ends with the level word ("RAS KERNEL
 *      INFO message"); a level padded by 3 or more blanks takes the next
 *      field too and ends there (CBS.log's "Info<18 blanks>CBS    message");
 *   3. after "] " or "|", one more field that ends the same way (a class
 *      name with ": ", a bracketed level, a pid and "|") still belongs to it.
 * Only the first HDR_ZONE bytes are looked at; a line that is all header
 * has none. */
#define HDR_ZONE 192
#define HDR_WEIGHT 0.3f /* a header word's value beside a message word's, before the norm */
#define HDR_TS_FIELDS 4

static inline int dig2(const unsigned char *s, size_t i, size_t n) {
    return i + 1 < n && is_digit(s[i]) && is_digit(s[i + 1]);
}

/* a date or time starting at s[i] */
static int ts_at(const unsigned char *s, size_t i, size_t n) {
    if (i + 7 <= n && is_digit(s[i]) && s[i + 1] == ':' && dig2(s, i + 2, n) && s[i + 4] == ':' &&
        dig2(s, i + 5, n))
        return 1; /* (h)h:mm:ss */
    if (i + 10 <= n && dig2(s, i, n) && dig2(s, i + 2, n) && (s[i + 4] == '-' || s[i + 4] == '.') &&
        dig2(s, i + 5, n) && s[i + 7] == s[i + 4] && dig2(s, i + 8, n))
        return 1; /* yyyy-mm-dd, yyyy.mm.dd */
    if (i + 8 <= n && dig2(s, i, n) && s[i + 2] == '/' && dig2(s, i + 3, n) && s[i + 5] == '/' &&
        dig2(s, i + 6, n))
        return 1; /* yy/mm/dd */
    if ((i == 0 || is_blank(s[i - 1])) && i + 12 <= n && (s[i] == '1' || s[i] == '2') &&
        (s[i + 4] == '0' || s[i + 4] == '1') && s[i + 8] == '-' && is_digit(s[i + 9]) &&
        (s[i + 10] == ':' || (is_digit(s[i + 10]) && s[i + 11] == ':'))) {
        for (size_t k = 0; k < 8; k++)
            if (!is_digit(s[i + k])) return 0;
        return 1; /* yyyymmdd-h:m:s (HealthApp, hours and minutes unpadded), not a uuid */
    }
    if (i == 0 && n >= 13 && s[6] == ' ') { /* yymmdd hhmmss */
        for (size_t k = 0; k < 13; k++)
            if (k != 6 && !is_digit(s[k])) return 0;
        return 1;
    }
    return 0;
}

/* a level word at s[0..len): upper case or capitalised (any case: lower
 * case too) */
static int level_word(const unsigned char *s, size_t len, int any_case) {
    static const char *const lv[] = {"info",    "warn",   "warning", "error",    "err",
                                     "fatal",   "debug",  "trace",   "severe",   "notice",
                                     "critical", "crit",  "alert",   "emerg",    "verbose"};
    if (len < 3 || len > 8 || !(any_case ? is_alpha(s[0]) : s[0] >= 'A' && s[0] <= 'Z')) return 0;
    int upper = 1;
    for (size_t k = 1; k < len; k++)
        if (!(s[k] >= 'A' && s[k] <= 'Z')) upper = 0;
    char w[9];
    for (size_t k = 0; k < len; k++) {
        if (!is_alpha(s[k])) return 0;
        if (k && !upper && !any_case && !(s[k] >= 'a' && s[k] <= 'z')) return 0;
        w[k] = (char)(s[k] | 0x20);
    }
    w[len] = '\0';
    for (size_t k = 0; k < sizeof lv / sizeof *lv; k++)
        if (!strcmp(w, lv[k])) return 1;
    return 0;
}

static int is_level(const unsigned char *s, size_t len) { return level_word(s, len, 0); }

/* a line that starts with a bracketed level word: "[INFO] ", "[error] " */
static int bracket_level(const unsigned char *s, size_t n) {
    size_t k = 1;
    while (k < n && k < 10 && is_alpha(s[k]))
        k++;
    return n > 0 && s[0] == '[' && k + 1 < n && s[k] == ']' && s[k + 1] == ' ' &&
           level_word(s + 1, k - 1, 1);
}

/* no date or time: HPC's "LogId Node Component State Time Flag", an epoch
 * time (10 digits, 1xxxxxxxxx: 2001-2033) as the 3rd to 6th field and a
 * flag of 1 or 2 digits after it; returns the flag's end, 0: not that */
static size_t header_epoch(const unsigned char *s, size_t n) {
    size_t i = 0;
    for (size_t field = 1; field <= 6; field++) {
        while (i < n && is_blank(s[i]))
            i++;
        size_t j = i, digits = 0;
        while (j < n && !is_blank(s[j]))
            digits += (size_t)is_digit(s[j++]);
        if (j == i || j >= n) return 0;
        if (field >= 3 && j - i == 10 && digits == 10 && s[i] == '1') {
            size_t k = j;
            while (k < n && is_blank(s[k]))
                k++;
            size_t m = k;
            while (m < n && is_digit(s[m]))
                m++;
            return m > k && m - k <= 2 && m < n && is_blank(s[m]) ? m : 0;
        }
        i = j;
    }
    return 0;
}

/* after a "] " or "|" terminator at e: one more field ending the same way */
static size_t header_extend(const unsigned char *s, size_t e, size_t n) {
    size_t j = e;
    while (j < n && s[j] == ' ')
        j++;
    if (j < n && s[j] == '[') { /* a bracketed field: "[error] " */
        size_t k = j + 1;
        while (k < n && k - j < 64 && s[k] != ']' && s[k] != '[')
            k++;
        return k + 1 < n && s[k] == ']' && s[k + 1] == ' ' ? k + 1 : e;
    }
    size_t k = j;
    while (k < n && k - j < 96 && !is_blank(s[k]) && s[k] != '|')
        k++;
    if (k == j || k >= n) return e;
    if (s[k] == '|') return k + 1;                                  /* "pid|" */
    if (s[k - 1] == ':' && k - j > 1 && is_alpha(s[j])) return k;   /* "org.a.Class: " */
    return e;
}

/* byte offset where the message starts after the header, 0: no header */
static size_t header_end(const unsigned char *s, size_t n) {
    if (n > HDR_ZONE) n = HDR_ZONE;
    int ts = 0;
    for (size_t i = 0, field = 0; i < n && field < HDR_TS_FIELDS && !ts; i++) {
        if (is_blank(s[i])) {
            if (i && !is_blank(s[i - 1])) field++;
            continue;
        }
        ts = is_digit(s[i]) && (i == 0 || s[i - 1] != '/') && ts_at(s, i, n); /* not in a path */
    }
    if (!ts && !bracket_level(s, n)) return header_epoch(s, n);
    int depth = 0, letter = 0;
    size_t level_end = 0, fields_after = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '[' || c == '(') {
            depth++;
            continue;
        }
        if ((c == ']' || c == ')') && depth > 0) {
            depth--;
            if (c == ']' && !depth && letter && i + 1 < n && s[i + 1] == ' ')
                return header_extend(s, i + 1, n);
            continue;
        }
        if (is_alpha(c)) letter = 1;
        if (depth) continue;
        if (letter && c == ':' && i + 1 < n && s[i + 1] == ' ') return i + 1;
        if (letter && c == '|') return header_extend(s, i + 1, n);
        if (letter && c == ' ' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == ' ') return i + 2;
        if (is_blank(c) || i == 0) { /* a field starts at the next non-blank byte */
            size_t j = is_blank(c) ? i + 1 : i;
            if (j >= n || is_blank(s[j])) continue;
            if (level_end && ++fields_after > 2) return level_end;
            size_t k = j;
            while (k < n && is_alpha(s[k]))
                k++;
            if (!level_end && (k == n || !is_word(s[k])) && is_level(s + j, k - j)) {
                level_end = k;
                fields_after = 0;
                /* a level padded to a wide column ("Info" and 18 blanks in
                 * Windows' CBS.log): the next field is a column of the
                 * header too (the component, "CBS"), unless bracketed */
                size_t p = k;
                while (p < n && s[p] == ' ')
                    p++;
                if (p - k >= 3 && p < n && s[p] != '[' && s[p] != '(') {
                    size_t q = p;
                    while (q < n && !is_blank(s[q]))
                        q++;
                    return q < n ? q : level_end;
                }
            }
        }
    }
    return level_end;
}

/* Splits s[0..n) into tokens; returns the count. norm gets " w1 w2 ... ".
 * *nh: how many of the tokens start before byte hdr_end (the header's). */
static size_t normalise(hash_scratch *sc, const unsigned char *s, size_t n, uint64_t seed,
                        size_t hdr_end, size_t *nh) {
    size_t nt = 0, nn = 0, i = 0;
    *nh = SIZE_MAX;
    sc->norm[nn++] = ' ';
    while (i < n) {
        if (*nh == SIZE_MAX && i >= hdr_end) *nh = nt; /* the tokens that started before */
        unsigned char c = s[i];
        int bound = i == 0 || !is_word(s[i - 1]);
        int opener = i == 0 || opens_after(s[i - 1]);
        if ((c == '\'' || c == '"') && opener) { /* short quoted name */
            size_t j = i + 1;
            while (j < n && j - i <= 64 && s[j] != c && !is_blank(s[j]))
                j++;
            if (j < n && s[j] == c && j > i + 1 && (j + 1 >= n || !is_word(s[j + 1]))) {
                push_placeholder(sc, &nt, PH_QUOTE, seed, s + i + 1, j - i - 1);
                i = j + 1;
                continue;
            }
        }
        if (c == '/' && opener && i + 1 < n && !is_blank(s[i + 1])) {
            size_t e = path_end(s, i + 1, n);
            push_placeholder(sc, &nt, PH_PATH, seed, s + i, e - i);
            i = e;
            continue;
        }
        if (!is_word(c)) {
            i++;
            continue;
        }
        size_t m;
        if (bound && is_hex(c) && (m = match_uuid(s, i, n))) {
            push_placeholder(sc, &nt, PH_UUID, seed, s + i, m);
            i += m;
            continue;
        }
        if (bound && is_digit(c) && (m = match_ip(s, i, n))) {
            push_placeholder(sc, &nt, PH_IP, seed, s + i, m);
            i += m;
            continue;
        }
        if (bound && is_alpha(c) && i + 2 < n && s[i + 1] == ':' && s[i + 2] == '\\') {
            size_t e = path_end(s, i + 2, n); /* C:\dir\file */
            push_placeholder(sc, &nt, PH_PATH, seed, s + i, e - i);
            i = e;
            continue;
        }
        size_t j = i, digits = 0, hexes = 0;
        while (j < n && is_word(s[j])) {
            digits += (size_t)is_digit(s[j]);
            hexes += (size_t)is_hex(s[j]);
            j++;
        }
        size_t len = j - i;
        if (digits == len) { /* a number, with decimals */
            while (j + 1 < n && (s[j] == '.' || s[j] == ',') && is_digit(s[j + 1])) {
                j++;
                while (j < n && is_digit(s[j]))
                    j++;
            }
            /* a short number standing alone ("code 13", "status 200") keeps
             * its text; one inside a time, date or version (":", ".", "-",
             * "/" next to it) is masked only */
            int alone = (i == 0 || !strchr(":.-/", s[i - 1])) && (j >= n || !strchr(":.-/", s[j]));
            push_placeholder(sc, &nt, PH_NUM, seed, s + i, alone ? j - i : RAW_MAX + 1);
        } else if (bound &&
                   ((len > 2 && c == '0' && (s[i + 1] | 0x20) == 'x' && hexes == len - 1) ||
                    (len >= 8 && hexes == len && digits > 0))) {
            push_placeholder(sc, &nt, PH_HEX, seed, s + i, len);
        } else {
            push_word(sc, &nt, &nn, s + i, len, seed);
        }
        i = j;
    }
    if (*nh == SIZE_MAX || *nh == nt) *nh = 0; /* all header: none */
    return nt;
}

/* ---- Encoding ---------------------------------------------------------------- */

/* Adds one occurrence of feature index f to the row being built. */
static inline void add_index(hash_scratch *sc, uint32_t mask_t, uint32_t f, lg_embeddings *out,
                             size_t row_start, size_t *nnz) {
    uint32_t t = (f * 0x9e3779b1u) & mask_t;
    for (;;) {
        if (sc->table[t].stamp != sc->gen) {
            sc->table[t].stamp = sc->gen;
            sc->table[t].key = f;
            sc->table[t].slot = (uint32_t)(*nnz - row_start);
            out->indices[*nnz] = f;
            out->values[*nnz] = 1.0f;
            (*nnz)++;
            return;
        }
        if (sc->table[t].key == f) {
            out->values[row_start + sc->table[t].slot] += 1.0f;
            return;
        }
        t = (t + 1) & mask_t;
    }
}

/* Feature indices of one word: its unigram and the char 3..5-grams of
 * " word "; returns how many (TOKEN_FEATS(len) at most). */
static uint32_t word_features(const char *norm, const token *t, uint64_t seed, uint32_t dim_mask,
                              uint32_t *feats) {
    uint32_t n = 0;
    feats[n++] = (uint32_t)mix64(t->h ^ K_WORD) & dim_mask;
    const char *p = norm + t->off - 1;
    size_t plen = t->len + 2;
    for (size_t st = 0; st + CHAR_MIN <= plen; st++) {
        uint64_t h = fnv_bytes(FNV_OFF ^ (seed * K_CHAR), p + st, CHAR_MIN - 1);
        for (size_t g = CHAR_MIN; g <= CHAR_MAX && st + g <= plen; g++) {
            h = (h ^ (unsigned char)p[st + g - 1]) * FNV_PRIME;
            feats[n++] = (uint32_t)mix64(h + g) & dim_mask;
        }
    }
    return n;
}

static lg_err encode_one(const hash_ctx *cx, hash_scratch *sc, const char *msg, size_t len,
                         lg_embeddings *out, size_t *nnz, lg_errmsg *err) {
    if (len > LG_HASH_MAX_BYTES) len = LG_HASH_MAX_BYTES;
    size_t bound = FEATS_PER_BYTE * len + 1 + 2 * (size_t)cx->pos;
    lg_err e = lg_embeddings_reserve_sparse(out, out->n_rows, cx->dim, *nnz + bound, err);
    if (e) return e;
    uint32_t mask_t = 64;
    while (mask_t < 2 * bound)
        mask_t <<= 1;
    mask_t -= 1;
    if (++sc->gen == 0) { /* wrapped: clear the stamps once */
        memset(sc->table, 0, sizeof sc->table);
        sc->gen = 1;
    }
    const uint64_t seed = cx->seed;
    const uint32_t dim_mask = cx->dim - 1;
    size_t nh; /* header tokens (hdr=1), the first nh */
    sc->want_shape = cx->path;
    size_t nt = normalise(sc, (const unsigned char *)msg, len, seed,
                          cx->hdr ? header_end((const unsigned char *)msg, len) : 0, &nh);
    size_t row_start = *nnz;
    for (size_t k = 0; k < nh; k++) /* header: one unigram of its own kind a token */
        add_index(sc, mask_t, (uint32_t)mix64(sc->toks[k].h ^ K_HDR) & dim_mask, out, row_start, nnz);
    size_t hdr_slots = *nnz - row_start; /* the header's features come first */
    for (size_t k = nh; k < nt; k++) {
        const token *t = &sc->toks[k];
        if (cx->pos) { /* position from the start (of the message) and from the end */
            if (k - nh < (size_t)cx->pos)
                add_index(sc, mask_t,
                          (uint32_t)mix64(t->h + (k - nh + 1) * 0x9e3779b97f4a7c15ull + K_POS) & dim_mask,
                          out, row_start, nnz);
            if (nt - k <= (size_t)cx->pos)
                add_index(sc, mask_t,
                          (uint32_t)mix64(t->h - (nt - k) * 0x9e3779b97f4a7c15ull + K_POS) & dim_mask,
                          out, row_start, nnz);
        }
        if (t->raw && cx->text) /* the masked token's own text */
            add_index(sc, mask_t, (uint32_t)mix64(t->raw ^ K_RAW) & dim_mask, out, row_start, nnz);
        if (t->shape) /* a path's shape (path=1) */
            add_index(sc, mask_t, (uint32_t)mix64(t->shape ^ K_PATH) & dim_mask, out, row_start, nnz);
        if (k + 1 < nt)
            add_index(sc, mask_t,
                      (uint32_t)mix64(t->h * 0x9e3779b97f4a7c15ull + sc->toks[k + 1].h + K_BIGRAM) &
                          dim_mask,
                      out, row_start, nnz);
        if (!t->len) { /* placeholder: its unigram only */
            add_index(sc, mask_t, (uint32_t)mix64(t->h ^ K_WORD) & dim_mask, out, row_start, nnz);
            continue;
        }
        const uint32_t *feats;
        uint32_t nf;
        const char *text = sc->norm + t->off;
        if (t->len <= CACHE_TOK) {
            cache_entry *ce = &sc->cache[t->h & (CACHE_N - 1)];
            if (ce->len != t->len || memcmp(ce->text, text, t->len)) {
                ce->nf = word_features(sc->norm, t, seed, dim_mask, ce->feats);
                ce->len = t->len;
                memcpy(ce->text, text, t->len);
            }
            feats = ce->feats;
            nf = ce->nf;
        } else {
            nf = word_features(sc->norm, t, seed, dim_mask, sc->tmp_feats);
            feats = sc->tmp_feats;
        }
        for (uint32_t q = 0; q < nf; q++)
            add_index(sc, mask_t, feats[q], out, row_start, nnz);
    }
    /* sublinear tf, then unit L2 norm */
    double ss = 0;
    for (size_t k = row_start; k < *nnz; k++) {
        float tf = out->values[k];
        float v = tf < 256 ? sc->log_tf[(int)tf] : 1.0f + logf(tf);
        if (k - row_start < hdr_slots) v *= HDR_WEIGHT;
        out->values[k] = v;
        ss += (double)v * v;
    }
    if (ss > 0) {
        float inv = (float)(1.0 / sqrt(ss));
        for (size_t k = row_start; k < *nnz; k++)
            out->values[k] *= inv;
    }
    return LG_OK;
}

static lg_err hash_encode_batch(const void *ctx, void *scratch, const char *const *msgs,
                                const size_t *lens, size_t n, lg_embeddings *out, lg_errmsg *err) {
    const hash_ctx *cx = ctx;
    hash_scratch *sc = scratch;
    lg_err e = lg_embeddings_reserve_sparse(out, n, cx->dim, out->nnz_cap, err);
    if (e) return e;
    size_t nnz = 0;
    out->indptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if ((e = encode_one(cx, sc, msgs[i] ? msgs[i] : "", msgs[i] ? lens[i] : 0, out, &nnz, err)))
            return e;
        out->indptr[i + 1] = nnz;
    }
    return LG_OK;
}

static lg_err hash_scratch_new(const void *ctx, void **out, lg_errmsg *err) {
    (void)ctx;
    hash_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return lg_fail(err, LG_ENOMEM, "out of memory (hash encoder scratch)");
    sc->log_tf[0] = 0;
    for (int i = 1; i < 256; i++)
        sc->log_tf[i] = 1.0f + logf((float)i);
    *out = sc;
    return LG_OK;
}

static void hash_scratch_free(void *s) {
    free(s);
}
static void hash_ctx_free(void *ctx) {
    free(ctx);
}

static const lg_encoder_ops hash_ops = {
    "hash", hash_scratch_new, hash_scratch_free, hash_encode_batch, hash_ctx_free,
};

lg_err lg_encoder_hash_normalise(const char *msg, size_t len, lg_buf *out, lg_errmsg *err) {
    hash_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return lg_fail(err, LG_ENOMEM, "hash encoder scratch: out of memory");
    if (len > LG_HASH_MAX_BYTES) len = LG_HASH_MAX_BYTES;
    size_t nh;
    size_t nt = normalise(sc, (const unsigned char *)msg, len, 0, 0, &nh);
    /* placeholders are not in norm: rebuild the sequence from the tokens */
    lg_err e = LG_OK;
    for (size_t k = 0; k < nt && !e; k++) {
        const token *t = &sc->toks[k];
        if (k) e = lg_buf_putc(out, ' ');
        if (e) break;
        if (t->len) {
            e = lg_buf_append(out, sc->norm + t->off, t->len);
        } else {
            for (int ph = PH_NUM; ph <= PH_QUOTE; ph++) {
                if (t->h == fnv_bytes(FNV_OFF, ph_names[ph], strlen(ph_names[ph]))) {
                    e = lg_buf_append(out, ph_names[ph], strlen(ph_names[ph]));
                    break;
                }
            }
        }
    }
    free(sc);
    if (e) return lg_fail(err, e, "normalised message over the buffer's cap");
    lg_buf_cstr(out);
    return LG_OK;
}

/* ---- Factory --------------------------------------------------------------------- */

/* Parses "dim=N,seed=S,text=0|1" (any of them, any order). */
static lg_err parse_params(const char *params, uint32_t *dim, uint32_t *seed, int *text, int *pos,
                           int *hdr, int *path, lg_errmsg *err) {
    const char *p = params;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (n >= sizeof item) return lg_fail(err, LG_EINVAL, "hash encoder: parameter too long");
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        char *end = NULL;
        unsigned long long v = 0;
        if (eq) v = strtoull(eq + 1, &end, 10);
        if (!eq || !eq[1] || *end)
            return lg_fail(err, LG_EINVAL,
                           "hash encoder: bad parameter '%s' (expected dim=N, seed=S, "
                           "text=0|1, pos=N, hdr=0|1 or path=0|1)",
                           item);
        *eq = '\0';
        if (!strcmp(item, "dim")) {
            if (v < 256 || v > (1u << 24) || (v & (v - 1)))
                return lg_fail(err, LG_EINVAL,
                               "hash encoder: dim must be a power of two in 256..16777216");
            *dim = (uint32_t)v;
        } else if (!strcmp(item, "text")) {
            if (v > 1) return lg_fail(err, LG_EINVAL, "hash encoder: text must be 0 or 1");
            *text = (int)v;
        } else if (!strcmp(item, "path")) {
            if (v > 1) return lg_fail(err, LG_EINVAL, "hash encoder: path must be 0 or 1");
            *path = (int)v;
        } else if (!strcmp(item, "hdr")) {
            if (v > 1) return lg_fail(err, LG_EINVAL, "hash encoder: hdr must be 0 or 1");
            *hdr = (int)v;
        } else if (!strcmp(item, "pos")) {
            if (v > HASH_POS_MAX)
                return lg_fail(err, LG_EINVAL, "hash encoder: pos must be in 0..%d", HASH_POS_MAX);
            *pos = (int)v;
        } else if (!strcmp(item, "seed")) {
            if (v > 0xffffffffull)
                return lg_fail(err, LG_EINVAL, "hash encoder: seed must fit 32 bits");
            *seed = (uint32_t)v;
        } else {
            return lg_fail(err, LG_EINVAL, "hash encoder: unknown parameter '%s'", item);
        }
        p = comma ? comma + 1 : NULL;
    }
    return LG_OK;
}

lg_err lg_encoder_hash_new(const char *params, lg_encoder **out, lg_errmsg *err) {
    *out = NULL;
    uint32_t dim = HASH_DEFAULT_DIM, seed = HASH_DEFAULT_SEED;
    int text = 0, pos = 0, hdr = 0, path = 0;
    lg_err e = parse_params(params, &dim, &seed, &text, &pos, &hdr, &path, err);
    if (e) return e;
    hash_ctx *cx = calloc(1, sizeof *cx);
    if (!cx) return lg_fail(err, LG_ENOMEM, "hash encoder: out of memory");
    cx->dim = dim;
    cx->seed = seed;
    cx->text = text;
    cx->pos = pos;
    cx->hdr = hdr;
    cx->path = path;
    char spec[96], config[640], posbuf[32] = "";
    if (pos) snprintf(posbuf, sizeof posbuf, ",pos=%d", pos);
    snprintf(spec, sizeof spec, "hash:dim=%u,seed=%u%s%s%s%s", dim, seed, text ? ",text=1" : "",
             posbuf, hdr ? ",hdr=1" : "", path ? ",path=1" : "");
    snprintf(config, sizeof config,
             "{\"family\": \"hash\", \"version\": %d, \"dim\": %u, \"seed\": %u, "
             "\"word_ngrams\": [1, 2], \"char_ngrams\": [%d, %d], \"max_bytes\": %d, "
             "\"weighting\": \"1+ln(tf), l2\", \"masked_text_feature\": %s, "
             "\"masks\": [\"<uuid>\", \"<ip>\", \"<path>\", \"<hex>\", \"<num>\", \"<q>\"]}",
             HASH_NORM_VERSION, dim, seed, CHAR_MIN, CHAR_MAX, LG_HASH_MAX_BYTES,
             text ? "true" : "false");
    if (pos) { /* only then: bundles without it keep their config hash */
        size_t cl = strlen(config);
        snprintf(config + cl - 1, sizeof config - cl + 1, ", \"positional_tokens\": %d}", pos);
    }
    if (hdr) { /* likewise */
        size_t cl = strlen(config);
        snprintf(config + cl - 1, sizeof config - cl + 1, ", \"header_apart\": %.2f}", (double)HDR_WEIGHT);
    }
    if (path) { /* likewise */
        size_t cl = strlen(config);
        snprintf(config + cl - 1, sizeof config - cl + 1, ", \"path_shape\": true}");
    }
    lg_encoder_info info = {spec, dim, 1, lg_fnv1a64(config, strlen(config), 0), config};
    return lg_encoder_wrap(&hash_ops, cx, &info, out, err);
}

size_t lg_encoder_hash_header_len(const char *msg, size_t len) {
    if (len > LG_HASH_MAX_BYTES) len = LG_HASH_MAX_BYTES;
    return header_end((const unsigned char *)msg, len);
}
