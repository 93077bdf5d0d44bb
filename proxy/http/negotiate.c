/*
 * The form of a page: see negotiate.h.
 */
#include <string.h>

#include "http.h"

enum proxy_format proxy_format_negotiate(const char *target,
                                         const char *accept) {
  const char *query = strchr(target, '?');
  if (query != NULL && strstr(query, "format=json") != NULL)
    return PROXY_FORMAT_JSON;
  if (query != NULL && strstr(query, "format=text") != NULL)
    return PROXY_FORMAT_TEXT;
  if (query != NULL && strstr(query, "format=html") != NULL)
    return PROXY_FORMAT_HTML;
  if (strstr(accept, "application/json") != NULL)
    return PROXY_FORMAT_JSON;
  if (strstr(accept, "text/html") != NULL)
    return PROXY_FORMAT_HTML;
  return PROXY_FORMAT_TEXT;
}
