/*
 * Which form a page is answered in: plain text, HTML or JSON. One rule for
 * every page that has more than one (the /diag pages, /diag/modfile, the
 * mirror's status): "?format=" in the query wins, then the Accept header,
 * then plain text.
 */
#ifndef PROXY_NEGOTIATE_H
#define PROXY_NEGOTIATE_H

enum proxy_format { PROXY_FORMAT_TEXT, PROXY_FORMAT_HTML, PROXY_FORMAT_JSON };

/** The form asked for by a request target (its query) and its Accept
 *  header. Pure. A page without an HTML form answers PROXY_FORMAT_HTML with
 *  its text. */
enum proxy_format proxy_format_negotiate(const char *target,
                                         const char *accept);

#endif
