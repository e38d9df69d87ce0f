/* safetensors.c - read-only mmapped safetensors files.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {...}}, then the data section. Everything in the header
 * is validated (known dtype, shape product x element size == byte range,
 * ranges inside the data section and non-overlapping, no duplicate names)
 * before any tensor byte is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bert/sbert_internal.h"
#include "logify/jsonguard.h"

#define ST_HEADER_MAX (100u << 20) /* as in the reference implementation */
#define ST_MAX_TENSORS 100000

/* ---- Header validation --------------------------------------------------- */

static int dtype_size(const char *d, lg_st_dtype *out) {
    static const struct {
        const char *name;
        int size;
        lg_st_dtype dt;
    } tab[] = {{"F32", 4, LG_ST_F32},    {"F16", 2, LG_ST_F16},   {"BF16", 2, LG_ST_BF16},
               {"F64", 8, LG_ST_OTHER},  {"I64", 8, LG_ST_OTHER}, {"I32", 4, LG_ST_OTHER},
               {"I16", 2, LG_ST_OTHER},  {"I8", 1, LG_ST_OTHER},  {"U8", 1, LG_ST_OTHER},
               {"BOOL", 1, LG_ST_OTHER}, {"U16", 2, LG_ST_OTHER}, {"U32", 4, LG_ST_OTHER},
               {"U64", 8, LG_ST_OTHER}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (!strcmp(d, tab[i].name)) {
            *out = tab[i].dt;
            return tab[i].size;
        }
    return 0;
}

static int cmp_range(const void *a, const void *b) {
    const lg_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

void lg_safetensors_close(lg_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    if (st->map) munmap(st->map, st->map_len);
    memset(st, 0, sizeof *st);
}

lg_err lg_safetensors_parse(const void *buf, size_t len, const char *name, lg_safetensors *st,
                            lg_errmsg *err) {
    memset(st, 0, sizeof *st);
    const uint8_t *p = buf;
    if (len < 8)
        return lg_fail(err, LG_EMODEL, "%s: file too short for a safetensors header", name);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | p[i];
    if (n < 2 || n > ST_HEADER_MAX || n > len - 8)
        return lg_fail(err, LG_EMODEL, "%s: header length %llu invalid for a %zu-byte file", name,
                       (unsigned long long)n, len);
    json_error_t je;
    int oom;
    json_t *root = lg_json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je, &oom);
    if (oom) return lg_fail(err, LG_ENOMEM, "%s: out of memory while reading the header's JSON", name);
    if (!root) return lg_fail(err, LG_EMODEL, "%s: header is not JSON: %s", name, je.text);
    lg_err e = LG_OK;
    if (!json_is_object(root)) {
        e = lg_fail(err, LG_EMODEL, "%s: header is not a JSON object", name);
        goto out;
    }
    size_t count = json_object_size(root);
    if (count > ST_MAX_TENSORS) {
        e = lg_fail(err, LG_ELIMIT, "%s: too many tensors (%zu)", name, count);
        goto out;
    }
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        e = lg_fail(err, LG_ENOMEM, "safetensors tensors: out of memory");
        goto out;
    }
    const uint8_t *data = p + 8 + n;
    size_t data_len = len - 8 - (size_t)n;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v)) {
                e = lg_fail(err, LG_EMODEL, "%s: __metadata__ is not an object", name);
                goto out;
            }
            continue;
        }
        json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
               *jo = json_object_get(v, "data_offsets");
        if (!json_is_object(v) || !json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) ||
            json_array_size(jo) != 2) {
            e = lg_fail(err, LG_EMODEL, "%s: tensor '%s': needs dtype, shape and data_offsets[2]",
                        name, key);
            goto out;
        }
        lg_st_tensor *t = &st->tensors[st->n_tensors];
        int esize = dtype_size(json_string_value(jd), &t->dtype);
        if (!esize) {
            e = lg_fail(err, LG_EMODEL, "%s: tensor '%s': unknown dtype '%s'", name, key,
                        json_string_value(jd));
            goto out;
        }
        static const char *names[] = {"F32", "F16", "BF16", "other"};
        t->dtype_name = names[t->dtype];
        if (json_array_size(js) > 8) {
            e = lg_fail(err, LG_EMODEL, "%s: tensor '%s': more than 8 dimensions", name, key);
            goto out;
        }
        uint64_t elems = 1;
        t->ndim = (int)json_array_size(js);
        for (int d = 0; d < t->ndim; d++) {
            json_t *x = json_array_get(js, (size_t)d);
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > (json_int_t)1 << 40) {
                e = lg_fail(err, LG_EMODEL, "%s: tensor '%s': bad shape[%d]", name, key, d);
                goto out;
            }
            t->shape[d] = (int64_t)json_integer_value(x);
            if (t->shape[d] && elems > (UINT64_MAX >> 4) / (uint64_t)t->shape[d]) {
                e = lg_fail(err, LG_EMODEL, "%s: tensor '%s': shape overflows", name, key);
                goto out;
            }
            elems *= (uint64_t)t->shape[d];
        }
        json_t *j0 = json_array_get(jo, 0), *j1 = json_array_get(jo, 1);
        if (!json_is_integer(j0) || !json_is_integer(j1) || json_integer_value(j0) < 0 ||
            json_integer_value(j1) < json_integer_value(j0) ||
            (uint64_t)json_integer_value(j1) > data_len) {
            e = lg_fail(err, LG_EMODEL,
                        "%s: tensor '%s': data_offsets outside the %zu-byte data section", name,
                        key, data_len);
            goto out;
        }
        uint64_t b0 = (uint64_t)json_integer_value(j0), b1 = (uint64_t)json_integer_value(j1);
        if (b1 - b0 != elems * (uint64_t)esize) {
            e = lg_fail(err, LG_EMODEL,
                        "%s: tensor '%s': shape needs %llu bytes but data_offsets give %llu", name,
                        key, (unsigned long long)(elems * (uint64_t)esize),
                        (unsigned long long)(b1 - b0));
            goto out;
        }
        t->name = lg_strdup(key);
        if (!t->name) {
            e = lg_fail(err, LG_ENOMEM, "safetensors names: out of memory");
            goto out;
        }
        t->data = data + b0;
        t->nbytes = (size_t)(b1 - b0);
        st->n_tensors++;
    }
    /* ranges must not overlap */
    lg_st_tensor *sorted = malloc((st->n_tensors ? st->n_tensors : 1) * sizeof *sorted);
    if (!sorted) {
        e = lg_fail(err, LG_ENOMEM, "safetensors index: out of memory");
        goto out;
    }
    memcpy(sorted, st->tensors, st->n_tensors * sizeof *sorted);
    qsort(sorted, st->n_tensors, sizeof *sorted, cmp_range);
    for (size_t i = 1; i < st->n_tensors; i++)
        if (sorted[i].data < sorted[i - 1].data + sorted[i - 1].nbytes) {
            e = lg_fail(err, LG_EMODEL, "%s: tensors '%s' and '%s' overlap", name,
                        sorted[i - 1].name, sorted[i].name);
            break;
        }
    free(sorted);
out:
    json_decref(root);
    if (e) lg_safetensors_close(st);
    return e;
}

lg_err lg_safetensors_open(const char *path, lg_safetensors *st, lg_errmsg *err) {
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lg_fail(err, errno == ENOENT ? LG_ENOTFOUND : LG_EIO, "%s: %s", path,
                       strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 8) {
        close(fd);
        return lg_fail(err, LG_EMODEL, "%s: not a safetensors file (too short)", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return lg_fail(err, LG_EIO, "%s: mmap: %s", path, strerror(errno));
    lg_err e = lg_safetensors_parse(map, len, path, st, err);
    if (e) {
        munmap(map, len);
        return e;
    }
    st->map = map;
    st->map_len = len;
    return LG_OK;
}

const lg_st_tensor *lg_safetensors_find(const lg_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

/* ---- Conversion ---------------------------------------------------------- */

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void lg_st_to_f32(const lg_st_tensor *t, float *dst, size_t n) {
    const uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case LG_ST_F32: {
            uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &b, 4);
            break;
        }
        case LG_ST_F16: dst[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case LG_ST_BF16: {
            uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &b, 4);
            break;
        }
        default: dst[i] = 0;
        }
    }
}
