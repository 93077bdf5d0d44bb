/*
 * The diagnostics pages' shared HTML: see page.h. The stylesheet is small
 * and inline; tables scroll inside their own box, so a 390 px wide screen
 * never scrolls the page sideways.
 */
#include <string.h>
#include <time.h>

#include "modproxy/gomod.h"
#include "page.h"

static const struct {
  enum page_nav nav;
  const char *href, *label;
} nav_links[] = {
    {PAGE_NAV_DASHBOARD, "/diag", "Dashboard"},
    {PAGE_NAV_MODFILE, "/diag/modfile", "Check a go.mod"},
    {PAGE_NAV_MIRROR, "/diag/mirror", "Mirror"},
    {PAGE_NAV_CONFIG, "/diag/config", "Client settings"},
};

static const char css[] =
    "*{box-sizing:border-box}"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;"
    "background:#fafaf8}"
    "nav{background:#24343f;padding:.5em 1em;display:flex;flex-wrap:wrap;"
    "gap:.3em 1.2em}"
    "nav a{color:#dfe8ee;text-decoration:none}"
    "nav a[aria-current]{color:#fff;font-weight:600}"
    "main{max-width:72em;margin:0 auto;padding:.5em 1em 2em}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}"
    "a{color:#1d5fa8}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;margin:.4em 0}"
    "th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;"
    "vertical-align:top}"
    "th{font-weight:600;background:#eef1f3}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code,pre{font:13px ui-monospace,monospace;overflow-wrap:anywhere}"
    "pre{background:#f0f0ec;padding:.8em;white-space:pre-wrap}"
    "form{display:flex;flex-wrap:wrap;gap:.4em;align-items:end}"
    "label{display:flex;flex-direction:column;font-size:.85em}"
    "input,select,button{font:inherit;padding:.2em .4em;max-width:100%}"
    "svg{display:block}svg rect{fill:#4a7fb0}"
    ".bad{color:#a12}.meter{background:#ddd;height:.8em;width:12em;"
    "max-width:100%}.meter div{background:#4a7fb0;height:100%}"
    "footer{margin-top:2em;font-size:.85em;color:#555}";

void page_esc(FILE *f, const char *s) {
  for (; s != NULL && *s != '\0'; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

void page_url(FILE *f, const char *s) {
  for (; s != NULL && *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || strchr("-._~/@", c) != NULL)
      fputc(c, f);
    else
      fprintf(f, "%%%02X", c);
  }
}

void page_begin(FILE *f, const char *title, enum page_nav nav) {
  fputs("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,"
        "initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>",
        f);
  page_esc(f, title);
  fprintf(f, "</title><style>%s</style></head><body><nav>", css);
  for (size_t i = 0; i < sizeof nav_links / sizeof nav_links[0]; i++)
    fprintf(f, "<a href=\"%s\"%s>%s</a>", nav_links[i].href,
            nav_links[i].nav == nav ? " aria-current=\"page\"" : "",
            nav_links[i].label);
  fputs("</nav><main><h1>", f);
  page_esc(f, title);
  fputs("</h1>\n", f);
}

/* Writes self's path and query with format=FMT in place of any format. */
static void self_as(FILE *f, const char *self, const char *fmt) {
  size_t plen = strcspn(self, "?");
  fwrite(self, 1, plen, f);
  fprintf(f, "?format=%s", fmt);
  const char *q = self[plen] == '?' ? self + plen + 1 : "";
  while (*q != '\0') {
    size_t n = strcspn(q, "&");
    if (strncmp(q, "format=", 7) != 0 && n > 0) {
      fputs("&amp;", f);
      for (size_t i = 0; i < n; i++)
        q[i] == '&' ? fputs("&amp;", f) : fputc(q[i], f);
    }
    q += n + (q[n] == '&');
  }
}

void page_end(FILE *f, const char *self) {
  fputs("<footer>", f);
  if (self != NULL) {
    fputs("Also as <a href=\"", f);
    self_as(f, self, "json");
    fputs("\">JSON</a> and <a href=\"", f);
    self_as(f, self, "text");
    fputs("\">text</a>. ", f);
  }
  fputs("modproxy</footer></main></body></html>\n", f);
}

void page_table_begin(FILE *f, const char *heading, const char *id, int nrows,
                      const char *cols) {
  if (heading != NULL) {
    fputs("<h2>", f);
    page_esc(f, heading);
    fputs("</h2>", f);
  }
  if (nrows == 0) {
    fputs("<p>None.</p>\n", f);
    return;
  }
  fputs("<div class=\"scroll\"><table", f);
  if (id != NULL)
    fprintf(f, " id=\"%s\"", id);
  fputs("><tr>", f);
  while (cols != NULL && *cols != '\0') {
    size_t n = strcspn(cols, "|");
    fprintf(f, "<th>%.*s</th>", (int)n, cols);
    cols += n + (cols[n] == '|');
  }
  fputs("</tr>\n", f);
}

void page_table_end(FILE *f, int nrows) {
  if (nrows > 0)
    fputs("</table></div>\n", f);
}

void page_module_link(FILE *f, const char *module, const char *version) {
  if (module == NULL || module[0] == '\0')
    return;
  int v = version != NULL && version[0] != '\0';
  fputs("<a href=\"/diag/module/", f);
  page_url(f, module);
  if (v) {
    fputc('@', f);
    page_url(f, version);
  }
  fputs("\">", f);
  page_esc(f, module);
  if (v) {
    fputc('@', f);
    page_esc(f, version);
  }
  fputs("</a>", f);
}

void page_req_link(FILE *f, const char *id) {
  fputs("<a href=\"/diag/req/", f);
  page_url(f, id);
  fputs("\">", f);
  page_esc(f, id);
  fputs("</a>", f);
}

void page_time(int64_t ms, char *buf, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void page_chart(FILE *f, const double *v, int n, double max, int w, int h,
                const char *label) {
  double top = 0;
  for (int i = 0; i < n; i++)
    if (v[i] > top)
      top = v[i];
  if (max <= 0)
    max = top;
  fprintf(f,
          "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "role=\"img\"><title>",
          w, h, w, h);
  page_esc(f, label);
  fprintf(f, " (highest %g)</title>", top);
  fprintf(f, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>",
          h - 1, w, h - 1);
  double bw = n > 0 ? (double)w / n : w;
  for (int i = 0; i < n && max > 0; i++) {
    if (v[i] <= 0)
      continue;
    double bh = v[i] >= max ? h : v[i] / max * h;
    if (bh < 1)
      bh = 1;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
            i * bw, h - bh, bw > 1.5 ? bw - 0.5 : bw, bh);
  }
  fputs("</svg>", f);
}

int page_query(const char *query, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name), o = 0;
  out[0] = '\0';
  for (const char *q = query; q != NULL && *q != '\0';) {
    size_t n = strcspn(q, "&");
    if (n > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
      for (size_t i = nl + 1; i < n && o + 1 < cap; i++) {
        int hi, lo;
        if (q[i] == '+') {
          out[o++] = ' ';
        } else if (q[i] == '%' && i + 2 < n &&
                   (hi = gomod_hex_digit(q[i + 1])) >= 0 &&
                   (lo = gomod_hex_digit(q[i + 2])) >= 0) {
          char c = (char)(hi * 16 + lo);
          if (c != '\0')
            out[o++] = c;
          i += 2;
        } else {
          out[o++] = q[i];
        }
      }
      out[o] = '\0';
      return 1;
    }
    if (n == nl && strncmp(q, name, nl) == 0) /* "name" alone */
      return 1;
    q += n + (q[n] == '&');
  }
  return 0;
}

void page_shell_word(FILE *f, const char *s) {
  if (s[0] != '\0' && strpbrk(s, " \t\n*?[]{}~$`\"'\\|&;<>()!#") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('\'', f);
  for (; *s != '\0'; s++)
    *s == '\'' ? fputs("'\\''", f) : fputc(*s, f);
  fputc('\'', f);
}
