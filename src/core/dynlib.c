/*
 * dynlib.c - load a shared library on first use into a table of function
 * pointers (logify/dynlib.h says why; dynlib_libs.c defines the ten
 * tables).
 */
#include "logify/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int lg_dynlib_is_loaded(const lg_dynlib *lib) {
    return __atomic_load_n(&lib->loaded, __ATOMIC_ACQUIRE);
}

lg_err lg_dynlib_sym(const lg_dynlib *lib, void *handle, const char *name, void *fn,
                     lg_errmsg *err) {
    dlerror();
    void *p = dlsym(handle, name);
    if (!p) {
        const char *why = dlerror();
        return lg_fail(err, LG_EUNSUPPORTED, "%s has no function %s (%s): %s needs %s of %s",
                       lib->soname, name, why ? why : "null", lib->users, lib->soname,
                       lib->package);
    }
    memcpy(fn, &p, sizeof p); /* POSIX: a function's address, as dlsym gives it */
    return LG_OK;
}

lg_err lg_dynlib_sym_affixed(const lg_dynlib *lib, void *handle, const char *prefix,
                             const char *name, const char *suffix, void *fn, lg_errmsg *err) {
    char full[128];
    int n = snprintf(full, sizeof full, "%s%s%s", prefix, name, suffix);
    if (n < 0 || (size_t)n >= sizeof full)
        return lg_fail(err, LG_EINVAL, "%s: the symbol name %s%s%s is too long", lib->soname,
                       prefix, name, suffix);
    return lg_dynlib_sym(lib, handle, full, fn, err);
}

lg_err lg_dynlib_load(lg_dynlib *lib, lg_errmsg *err) {
    if (lg_dynlib_is_loaded(lib)) return LG_OK;
    lg_err e = LG_OK;
    pthread_mutex_lock(&lib->lock);
    if (!__atomic_load_n(&lib->loaded, __ATOMIC_RELAXED)) {
        /* RTLD_NOW: a library too old for one of its own symbols fails
         * here, not in the middle of a run; never closed */
        errno = 0;
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        int no_memory = !h && errno == ENOMEM; /* the loader's malloc failed */
        if (!h && no_memory) {
            const char *why = dlerror();
            e = lg_fail(err, LG_ENOMEM,
                        "%s needs the shared library %s, which could not be loaded: out of "
                        "memory (%s)",
                        lib->users, lib->soname, why ? why : "dlopen failed");
        } else if (!h) {
            const char *why = dlerror();
            e = lg_fail(err, LG_EUNSUPPORTED,
                        "%s needs the shared library %s, which could not be loaded (%s); "
                        "install the package %s",
                        lib->users, lib->soname, why ? why : "dlopen failed", lib->package);
        } else if ((e = lib->resolve(lib, h, err)) == LG_OK) {
            __atomic_store_n(&lib->loaded, 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&lib->lock);
    return e;
}
