/*
 * HTML for the /diag pages (diag_routes.c): escaping, and the head and the
 * foot every page shares. Private to proxy/ops.
 */
#ifndef PROXY_OPS_HTML_H
#define PROXY_OPS_HTML_H

#include <stddef.h>
#include <stdio.h>

/** Writes the n bytes of s to f with <, >, & and " escaped. */
void proxy_html_escape_n(FILE *f, const char *s, size_t n);
/** proxy_html_escape_n of the NUL-terminated s. */
void proxy_html_escape(FILE *f, const char *s);
/** A page's head, its style, and <body><h1>title</h1>. */
void proxy_html_begin(FILE *f, const char *title);
/** A page's </body></html>. */
void proxy_html_end(FILE *f);

#endif
