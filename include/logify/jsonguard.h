/* jsonguard.h - Jansson's failed allocations, counted per thread.
 *
 * Jansson 2.14 drops some of its failed allocations without a word:
 *  - json_dumps / json_dumpb: do_dump ignores dump_string's -1 for an
 *    object's key (akheron/jansson#655), so the text lacks the key
 *    ('"train_report_rows": 72' comes out as '": 72') and the call succeeds;
 *  - json_loads and friends: lex_save ignores strbuffer_append_byte's -1
 *    (akheron/jansson#362), so a token loses a byte ("abc...xyz" parses as a
 *    string without its 15th letter, [1234567890123456] as
 *    [123456789012345]) and the parse succeeds; when the token is a number
 *    or a keyword, lex_unget_unsave's assert(c == d) aborts the process
 *    instead (load.c:255), which no caller can prevent.
 * Logify installs an allocator for Jansson (json_set_alloc_funcs, once, at
 * start-up) that counts the thread's failed allocations; a caller takes a
 * mark before its json_* calls and asks after them whether one failed, and
 * then throws the result away (LG_ENOMEM) instead of using a value or text
 * that may be silently short. */
#ifndef LOGIFY_JSONGUARD_H
#define LOGIFY_JSONGUARD_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's count of Jansson's failed allocations. */
unsigned long lg_json_alloc_mark(void);
/* 1 when one of Jansson's allocations failed on this thread since mark. */
int lg_json_alloc_failed_since(unsigned long mark);
/* json_loadb that keeps no value built while an allocation failed: NULL,
 * and *oom 1, then (a token may have lost a byte, or the lexer reported the
 * failed malloc as a syntax error); *oom 0 otherwise (je says why a NULL). */
json_t *lg_json_loadb(const char *text, size_t len, size_t flags, json_error_t *je, int *oom);
/* json_dumps that keeps no text made while an allocation failed (an
 * object's key may be missing from it, akheron/jansson#655): NULL then, as
 * for any failure; NULL for a NULL j. free() the text. */
char *lg_json_dumps(const json_t *j, size_t flags);

#ifdef __cplusplus
}
#endif
#endif
