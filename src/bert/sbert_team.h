/* sbert_team.h - a persistent team of helper threads that runs a region
 * of work chunks (sbert_team.c), owned by one lg_sbert_scratch. Private to
 * src/bert/ (docs/bert.md, "Threads"). */
#ifndef LOGIFY_BERT_SBERT_TEAM_H
#define LOGIFY_BERT_SBERT_TEAM_H

#define SB_MAX_THREADS 64

typedef struct sb_team sb_team;
/* One chunk of a region, run by team member `member`. */
typedef void (*sb_team_fn)(void *arg, int chunk, int chunks, int member);

/* A team of `want` members (want - 1 helper threads). When a thread cannot
 * be created the team is smaller. NULL when out of memory. */
sb_team *sb_team_new(int want);
/* Runs a region of `units` work units cut into a few chunks per member; the
 * serial path (t NULL) runs it as one chunk. Returns when all are done. */
void sb_team_run(sb_team *t, sb_team_fn fn, void *arg, int units);
/* The same chunks as sb_team_run(t, ...) would cut, all run on the caller
 * (member 0) in order: for work whose bits depend on the cut (OpenBLAS's
 * kernel for a product depends on its shape) when the helpers must not
 * run. t NULL: one chunk. */
void sb_team_run_alone(const sb_team *t, sb_team_fn fn, void *arg, int units);
/* Members running: the caller + the helpers started. */
int sb_team_members(const sb_team *t);
/* Members asked for (sb_team_new's want). */
int sb_team_want(const sb_team *t);
void sb_team_free(sb_team *t);

#endif
