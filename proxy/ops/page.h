/*
 * The HTML of the diagnostics pages (/diag and below, /diag/mirror): one
 * page chrome (head, inline CSS, navigation) that every page opens and
 * closes with, and the small pieces the pages share (escaping, query
 * parameters, links, charts, shell quoting). Nothing external: no script,
 * no font, no image that is not inline SVG. Private to proxy/ops (and the
 * folders that serve a /diag page). Pure: they write to a FILE.
 */
#ifndef PROXY_OPS_PAGE_H
#define PROXY_OPS_PAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Which entry of the navigation a page is (shown as the current one). */
enum page_nav {
  PAGE_NAV_NONE,
  PAGE_NAV_DASHBOARD, /**< /diag */
  PAGE_NAV_MODFILE,   /**< /diag/modfile */
  PAGE_NAV_MIRROR,    /**< /diag/mirror */
  PAGE_NAV_CONFIG,    /**< /diag/config */
};

/** Opens a page: doctype, head (title, charset, viewport, the inline
 *  stylesheet), the navigation with `nav` marked, and <main> with an <h1>
 *  of title (escaped). Close it with page_end. */
void page_begin(FILE *f, const char *title, enum page_nav nav);
/** Closes a page opened by page_begin, with links to the same page as
 *  JSON and text (the query kept, format replaced; self is the request
 *  target, NULL: none). */
void page_end(FILE *f, const char *self);

/** Writes s (may be NULL) escaped for HTML text and attribute values. */
void page_esc(FILE *f, const char *s);
/** Writes s percent-encoded for a URL query value or path (unreserved
 *  characters and '/', '@' kept). */
void page_url(FILE *f, const char *s);
/** Opens a table of nrows rows under an <h2> of heading (NULL: none):
 *  "None." when nrows is 0 (page_table_end then writes nothing), else a
 *  box that scrolls sideways (the page never does) holding <table id=ID>
 *  (id NULL: none) and a header row of cols, a '|'-separated list. */
void page_table_begin(FILE *f, const char *heading, const char *id, int nrows,
                      const char *cols);
/** Closes what page_table_begin opened for nrows rows. */
void page_table_end(FILE *f, int nrows);
/** <a href="/diag/module/MODULE[@VERSION]">MODULE[@VERSION]</a>; nothing
 *  when module is empty. */
void page_module_link(FILE *f, const char *module, const char *version);
/** <a href="/diag/req/ID">ID</a>. */
void page_req_link(FILE *f, const char *id);
/** Unix time in ms as "YYYY-MM-DD HH:MM:SS" (UTC) into buf. */
void page_time(int64_t ms, char *buf, size_t len);

/**
 * An inline SVG bar chart of n values (oldest first), w x h pixels, with a
 * <title> naming what it shows (label) and its largest value; scaled to
 * max (0: to the largest value). Values under 0 are drawn as gaps.
 */
void page_chart(FILE *f, const double *v, int n, double max, int w, int h,
                const char *label);

/** A query parameter's value: name=value of query (may be NULL; the part
 *  after '?'), '+' and %XX decoded, into out (truncated to cap). 1 when
 *  present, else 0 with out "". */
int page_query(const char *query, const char *name, char *out, size_t cap);

/** Writes s quoted for a POSIX shell when a shell would split or glob it
 *  ('...', with ' written as '\''); else as it is. */
void page_shell_word(FILE *f, const char *s);

#endif
