/* svg.h - small helpers for the SVG files Logify writes (`logify eval
 * --plot`, `logify cluster --plot`): text from the data (labels, log
 * lines) made safe to put in an XML document.
 *
 * Labels and messages are hostile input: lg_svg_text escapes the five XML
 * specials, and replaces what XML 1.0 cannot hold at all (control
 * characters, invalid UTF-8) with U+FFFD, so the file always parses and a
 * label can never open an element or an attribute of its own. */
#ifndef LOGIFY_SVG_H
#define LOGIFY_SVG_H

#include <stddef.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends s (NUL-terminated) to b as XML text or attribute content (& < >
 * " ' escaped; bytes < 0x20 and invalid UTF-8 as U+FFFD). With max_chars >
 * 0, at most that many characters, the last one "..." (U+2026) when s is
 * longer. LG_ELIMIT when b is full. */
lg_err lg_svg_text(lg_buf *b, const char *s, size_t max_chars);

/* Characters (code points; an invalid byte counts as one) in s. */
size_t lg_svg_chars(const char *s);

#ifdef __cplusplus
}
#endif
#endif
