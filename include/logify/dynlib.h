/*
 * dynlib.h - shared libraries loaded when a command first needs them.
 *
 * `logify templates` (and --version, `rules test`, classify without an LLM
 * ...) should pay only for the libraries it uses. libcurl (with its TLS,
 * Kerberos and LDAP stack), OpenBLAS (which starts its thread pool when
 * loaded), libmicrohttpd, librdkafka and Vectorscan (with libstdc++) were
 * most of the CPU time of a 2,000-line `logify templates` when the binary
 * linked them (docs/templates.md, "Start-up"); libcsv, liblbfgs, libyaml,
 * PCRE2 and utf8proc, which only some commands call, cost ~60 us each of
 * every start. So these ten are not linked: the module that needs one calls its `lg_<lib>_load` first (dlopen
 * by soname, then dlsym of every function it calls into a table of
 * function pointers: logify/dynlib_curl.h, _blas.h, _mhd.h, _kafka.h,
 * _hs.h), then calls through `lg_<lib>()->function(...)`.
 *
 * A library that is missing is an error naming it and the Debian package
 * that ships it, returned by the load, never a crash later. Loaded
 * libraries stay loaded for the life of the process (no dlclose). The
 * packages name them in Depends explicitly (scripts/make-deb.sh: dpkg-
 * shlibdeps does not see a dlopen).
 */
#ifndef LOGIFY_DYNLIB_H
#define LOGIFY_DYNLIB_H

#include <pthread.h>

#include "logify/common.h"

/* One library. Static storage, initialised with LG_DYNLIB_INIT; the fields
 * after `resolve` belong to lg_dynlib_load. */
typedef struct lg_dynlib {
    const char *soname;  /* given to dlopen: "libcurl.so.4" */
    const char *package; /* the Debian package that ships it, for the error */
    const char *users;   /* what needs it, for the error: "the LLM stage" */
    /* fills the library's function table from `handle` with lg_dynlib_sym;
     * called once, under the lock */
    lg_err (*resolve)(const struct lg_dynlib *lib, void *handle, lg_errmsg *err);
    pthread_mutex_t lock;
    int loaded; /* read and written atomically: 1 once the table is complete */
} lg_dynlib;

#define LG_DYNLIB_INIT(soname, package, users, resolve) \
    {(soname), (package), (users), (resolve), PTHREAD_MUTEX_INITIALIZER, 0}

/* Loads `lib` and fills its table, once per process; later calls return
 * LG_OK at the cost of one atomic load. Thread-safe. LG_EUNSUPPORTED with
 * a message naming the library, its package and what needs it when the
 * library or one of its functions is missing (nothing is kept: a later call
 * tries again). */
lg_err lg_dynlib_load(lg_dynlib *lib, lg_errmsg *err);

/* 1 when lib's table is complete (lg_dynlib_load succeeded). */
int lg_dynlib_is_loaded(const lg_dynlib *lib);

/* For a `resolve` function: the address of `name` in `handle`, stored into
 * the function pointer at `fn` (OUT: a pointer to a function pointer).
 * LG_EUNSUPPORTED naming the symbol and the library when it is absent. */
lg_err lg_dynlib_sym(const lg_dynlib *lib, void *handle, const char *name, void *fn,
                     lg_errmsg *err);

/* As lg_dynlib_sym, for the symbol named prefix, name, suffix end to end
 * ("curl_" "easy_init" ""): what LG_DYNLIB_DEFINE's tables resolve with. */
lg_err lg_dynlib_sym_affixed(const lg_dynlib *lib, void *handle, const char *prefix,
                             const char *name, const char *suffix, void *fn, lg_errmsg *err);

/* One entry of a table's X-list, inside LG_DYNLIB_DEFINE's resolve function. */
#define LG_DYNLIB_SYM_(f) \
    if (e == LG_OK) e = lg_dynlib_sym_affixed(lib, handle, prefix, #f, suffix, &t->f, err);

/* Defines the table of library `name` (type lg_<name>_api from
 * logify/dynlib_<name>.h, whose X-list FUNCTIONS names its members) and its
 * two functions, lg_<name>_load and lg_<name>(): every member f is the
 * library's symbol PREFIX f SUFFIX. The optional last arguments are more
 * statements of the resolve function, for a member named otherwise (they
 * see `lib`, `handle`, `t` (the table), `e` and `err`). One use per library,
 * in src/core/dynlib_libs.c. */
#define LG_DYNLIB_DEFINE(name, FUNCTIONS, PREFIX, SUFFIX, soname, package, users, ...)      \
    static lg_##name##_api name##_table; /* written once, under the lock, before loaded */ \
    static lg_err name##_resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {      \
        static const char prefix[] = PREFIX, suffix[] = SUFFIX;                             \
        lg_##name##_api *t = &name##_table;                                                 \
        lg_err e = LG_OK;                                                                   \
        FUNCTIONS(LG_DYNLIB_SYM_)                                                           \
        __VA_ARGS__                                                                         \
        return e;                                                                           \
    }                                                                                       \
    static lg_dynlib name##_lib = LG_DYNLIB_INIT(soname, package, users, name##_resolve);   \
    lg_err lg_##name##_load(lg_errmsg *err) { return lg_dynlib_load(&name##_lib, err); }   \
    const lg_##name##_api *lg_##name(void) { return &name##_table; }

/* ---- The libraries ---------------------------------------------------- */
/* Each loads its library once per process (thread-safe); LG_EUNSUPPORTED
 * naming the library and its Debian package when it is missing. Their
 * tables, with the library's own header, are in logify/dynlib_<name>.h. */

lg_err lg_curl_load(lg_errmsg *err);  /* libcurl.so.4 (libcurl4): the LLM stage, pull */
lg_err lg_blas_load(lg_errmsg *err);  /* libopenblas.so.0 (libopenblas0): BERT, kNN, DBSCAN */
lg_err lg_mhd_load(lg_errmsg *err);   /* libmicrohttpd.so.12 (libmicrohttpd12): serve, kafka's metrics */
lg_err lg_kafka_load(lg_errmsg *err); /* librdkafka.so.1 (librdkafka1): logify kafka */
lg_err lg_hs_load(lg_errmsg *err);    /* libhs.so.5 (libvectorscan5): the rules stage */
lg_err lg_libcsv_load(lg_errmsg *err); /* libcsv.so.3 (libcsv3): the CSV reader's LG_CSV_LIBCSV engine */
lg_err lg_lbfgs_load(lg_errmsg *err);  /* liblbfgs.so.0 (liblbfgs0): training the logistic regression */
lg_err lg_yaml_load(lg_errmsg *err);   /* libyaml-0.so.2 (libyaml-0-2): reading YAML (config, rules) */
lg_err lg_pcre2_load(lg_errmsg *err);  /* libpcre2-8.so.0 (libpcre2-8-0): the rules stage, with Vectorscan */
lg_err lg_utf8proc_load(lg_errmsg *err); /* libutf8proc.so.2 (libutf8proc2): the BERT tokenizer */

#endif
