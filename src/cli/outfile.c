/* outfile.c - where `-o PATH` writes (docs/cli.md "Output files").
 *
 *   PATH is                 what happens
 *   -                       stdout
 *   a character device,     written through as a stream (no temporary file,
 *   a FIFO                  no rename: /dev/null, /dev/full, a named pipe)
 *   a regular file, or      written to PATH.tmpXXXXXX beside it, renamed over
 *   nothing yet             it on commit; an existing file keeps its mode and
 *                           owner, a new one gets 0666 & ~umask
 *   a symbolic link         followed: what is said above applies to its
 *                           target (the link stays a link); a dangling link
 *                           is refused
 *   anything else           refused (a directory, a block device, a socket)
 *
 * SIGINT, SIGTERM and SIGHUP while a temporary file exists: it is removed
 * and the process dies by the signal (status 130 / 143 / 129 in a shell).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* ---- Removal on a signal --------------------------------------------------------------- */

#define TRACK_SLOTS 4
static char tracked[TRACK_SLOTS][PATH_MAX + 32];
static volatile sig_atomic_t tracked_on[TRACK_SLOTS];

static void on_fatal_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < TRACK_SLOTS; i++)
        if (tracked_on[i]) unlink(tracked[i]); /* async-signal-safe */
    signal(sig, SIG_DFL);
    errno = saved;
    raise(sig); /* die by it: the parent sees the signal (shell: 128 + sig) */
}

static void install_handlers(void) {
    static int installed;
    if (installed) return;
    installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        /* a signal the caller ignores (nohup, a shell's background job)
         * stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Starts (path) or stops (NULL) removing path on a fatal signal; returns
 * the slot, or -1 when all are taken (then only normal exits clean up). */
static int track(const char *path, int slot) {
    if (!path) {
        if (slot >= 0) tracked_on[slot] = 0;
        return -1;
    }
    install_handlers();
    for (int i = 0; i < TRACK_SLOTS; i++) {
        if (tracked_on[i] || strlen(path) >= sizeof tracked[i]) continue;
        memcpy(tracked[i], path, strlen(path) + 1);
        tracked_on[i] = 1; /* after the name is complete */
        return i;
    }
    return -1;
}

/* ---- Opening --------------------------------------------------------------------------- */

/* Writes through to a device or FIFO that already exists. */
static int open_stream(cli_outfile *o, const char *path) {
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return cli_error("cannot open %s: %s", path, strerror(errno));
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        return cli_error("cannot open %s: %s", path, strerror(errno));
    }
    o->stream = 1;
    return CLI_OK;
}

/* A temporary file beside path with the mode and owner the result must have
 * (old: the existing file's stat, or NULL for a new file). */
static int open_temp(cli_outfile *o, const char *path, const struct stat *old) {
    size_t n = strlen(path) + 16;
    o->tmp_path = malloc(n);
    if (!o->tmp_path) return cli_error("%s: out of memory", path);
    snprintf(o->tmp_path, n, "%s.tmpXXXXXX", path);
    /* a fatal signal between creating the file and tracking it would leave
     * it behind: held back until the handler knows the name */
    sigset_t fatal, before;
    sigemptyset(&fatal);
    sigaddset(&fatal, SIGINT);
    sigaddset(&fatal, SIGTERM);
    sigaddset(&fatal, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &fatal, &before);
    int fd = mkstemp(o->tmp_path);
    if (fd >= 0) o->slot = track(o->tmp_path, -1);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (fd < 0) {
        int e = errno;
        free(o->tmp_path);
        o->tmp_path = NULL;
        return cli_error("cannot create %s: %s", path, strerror(e));
    }
    if (old) {
        /* fchown first: it clears set-id bits that fchmod then restores.
         * Only root (or the owner keeping its own ids) may do it; otherwise
         * the new file is ours, as it would be had we created it. */
        if (fchown(fd, old->st_uid, old->st_gid) != 0 && errno != EPERM) {
            close(fd);
            return cli_error("cannot keep the owner of %s: %s", path, strerror(errno));
        }
        fchmod(fd, old->st_mode & 07777);
    } else {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask); /* mkstemp makes 0600 files */
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        return cli_error("cannot open %s: %s", path, strerror(errno));
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return CLI_OK;
}

int cli_outfile_open(cli_outfile *o, const char *path) {
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (!strcmp(path, "-")) {
        o->final_path = lg_strdup("stdout");
        if (!o->final_path) return cli_error("stdout: out of memory");
        o->f = stdout;
        o->stream = 1;
        return CLI_OK;
    }
    struct stat st;
    char *resolved = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        resolved = realpath(path, NULL);
        if (!resolved)
            return cli_error("%s: a symbolic link whose target cannot be resolved (%s); not replacing the link",
                             path, strerror(errno));
    }
    o->final_path = resolved ? resolved : lg_strdup(path);
    if (!o->final_path) return cli_error("%s: out of memory", path);
    int rc;
    if (stat(o->final_path, &st) != 0) {
        if (errno != ENOENT) rc = cli_error("%s: %s", path, strerror(errno));
        else rc = open_temp(o, o->final_path, NULL);
    } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
        rc = open_stream(o, o->final_path);
    } else if (S_ISREG(st.st_mode)) {
        rc = open_temp(o, o->final_path, &st);
    } else {
        rc = cli_error("%s: %s; -o takes a regular file, a character device, a FIFO or -", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    if (rc != CLI_OK) cli_outfile_abort(o);
    return rc;
}

/* ---- Commit and abort ------------------------------------------------------------------ */

int cli_outfile_commit(cli_outfile *o) {
    int rc = CLI_OK;
    if (fflush(o->f) != 0 || ferror(o->f)) rc = cli_error("writing %s: %s", o->final_path, strerror(errno));
    if (o->f != stdout && fclose(o->f) != 0 && rc == CLI_OK)
        rc = cli_error("closing %s: %s", o->final_path, strerror(errno));
    o->f = NULL;
    if (rc == CLI_OK && o->tmp_path && rename(o->tmp_path, o->final_path) != 0)
        rc = cli_error("cannot rename %s to %s: %s", o->tmp_path, o->final_path, strerror(errno));
    if (o->tmp_path && rc != CLI_OK) unlink(o->tmp_path);
    track(NULL, o->slot);
    free(o->tmp_path);
    free(o->final_path);
    memset(o, 0, sizeof *o);
    return rc;
}

void cli_outfile_abort(cli_outfile *o) {
    if (o->f && o->f != stdout) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    track(NULL, o->slot);
    free(o->tmp_path);
    free(o->final_path);
    memset(o, 0, sizeof *o);
}
