/*
 * GET /diag/mirror: the offline mirror's state (offline or not, when its
 * content was taken and how old it is, the last import, what the store
 * holds, the checksum databases) and what it was asked for and lacked, as
 * text, HTML or JSON; /diag/mirror/missing.txt: the wants list for
 * `modproxy export --from`. The mirror's data comes from proxy/mirror
 * (mirror.h); the page is built on a worker thread (it reads the store).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror.h"
#include "modproxy/timeutil.h"
#include "ops.h"
#include "page.h"

struct mirror_page {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  enum proxy_format fmt;
  int wants;                 /* /diag/mirror/missing.txt */
  unsigned unreachable;      /* bit i: database i is skipped by verification */
  int offline, verify_sumdb; /* the settings shown (read on the loop) */
  int64_t stale_after_s;     /* --offline-stale-after (read on the loop) */
  char *text;
  size_t len;
};

struct counts {
  uint64_t lookups, tiles, other;
};

static int count_entry(void *arg, const char *db, const char *path,
                       const void *body, size_t len) {
  struct counts *c = arg;
  if (strncmp(path, "lookup/", 7) == 0)
    c->lookups++;
  else if (strncmp(path, "tile/", 5) == 0)
    c->tiles++;
  else
    c->other++;
  return 0;
}

/* One row of the HTML table: a heading and its (escaped) value. */
static void html_row(FILE *f, const char *name, const char *value) {
  fprintf(f, "<tr><th>%s</th><td>", name);
  page_esc(f, value);
  fputs("</td></tr>\n", f);
}

/* The JSON array's entries, counted in n for their commas. */
struct wants {
  FILE *f;
  size_t n;
};

static int json_miss(void *arg, const struct store_miss *m) {
  struct wants *w = arg;
  char want[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 2];
  snprintf(want, sizeof want, "%s@%s", m->module, m->query);
  fprintf(w->f, "%s{\"want\":", w->n++ > 0 ? "," : "");
  diag_json_write(w->f, want);
  fprintf(w->f,
          ",\"count\":%" PRIu64 ",\"first\":%" PRId64 ",\"last\":%" PRId64 "}",
          m->count, m->first, m->last);
  return 0;
}

static void on_page(uv_work_t *w) {
  struct mirror_page *p = w->data;
  struct proxy_server *s = p->s;
  FILE *f = open_memstream(&p->text, &p->len);
  if (f == NULL)
    return;
  if (p->wants) {
    proxy_mirror_wants_write(s->store, 0, f, NULL);
    fclose(f);
    return;
  }
  char snap[32] = "unknown", imported[512] = "", stale[256] = "";
  int64_t t = proxy_mirror_content_taken(s->store), now = (int64_t)time(NULL);
  if (t > 0)
    time_rfc3339(t, snap, sizeof snap);
  proxy_mirror_stale(s->mirror, p->stale_after_s, now, stale, sizeof stale);
  store_meta_get(s->store, "last_import", imported, sizeof imported);
  struct store_stats st = {0};
  store_stats_get(s->store, &st);
  char versions[128];
  snprintf(versions, sizeof versions,
           "%" PRIu64 " (%" PRIu64 " zips, %" PRIu64 " imported)", st.versions,
           st.zips, st.imported);
  const char *mode = p->offline ? "offline (fetches nothing)" : "online";
  const char *last = imported[0] != '\0' ? imported : "none";
  const char *verify = p->verify_sumdb ? "yes" : "no";
  int ndbs = proxy_sumdb_count(s->sumdb);
  if (p->fmt == PROXY_FORMAT_JSON) {
    fprintf(f, "{\"offline\":%s,\"snapshot\":", p->offline ? "true" : "false");
    diag_json_write(f, t > 0 ? snap : NULL);
    if (t > 0)
      fprintf(f, ",\"age_seconds\":%" PRId64, now - t);
    fprintf(
        f, ",\"stale_after_seconds\":%" PRId64 ",\"stale\":", p->stale_after_s);
    diag_json_write(f, stale[0] != '\0' ? stale : NULL);
    fprintf(f, ",\"last_import\":");
    diag_json_write(f, imported[0] != '\0' ? imported : NULL);
    fprintf(f,
            ",\"versions\":%" PRIu64 ",\"zips\":%" PRIu64
            ",\"imported\":%" PRIu64 ",\"verify_sumdb\":%s,\"sumdb\":[",
            st.versions, st.zips, st.imported,
            p->verify_sumdb ? "true" : "false");
  } else if (p->fmt == PROXY_FORMAT_HTML) {
    page_begin(f, "modproxy mirror", PAGE_NAV_MIRROR);
    fputs("<div class=\"scroll\"><table id=\"mirror\">", f);
    html_row(f, "mirror", mode);
    html_row(f, "content taken", snap);
    html_row(f, "last import", last);
    html_row(f, "versions", versions);
    html_row(f, "verify against the checksum database", verify);
    if (stale[0] != '\0')
      html_row(f, "warning", stale);
    fputs("</table></div>", f);
    page_table_begin(f, "Checksum databases", "sumdbs", ndbs,
                     "name|from|lookups|tiles|state");
  } else {
    fprintf(f,
            "mirror: %s\ncontent taken: %s\nlast import: %s\n"
            "versions: %s\nverify against the checksum database: %s\n",
            mode, snap, last, versions, verify);
    if (t > 0)
      fprintf(f, "content age: %" PRId64 " days %" PRId64 " hours\n",
              (now - t) / 86400, (now - t) % 86400 / 3600);
    if (stale[0] != '\0')
      fprintf(f, "warning: %s\n", stale);
  }
  for (int i = 0; i < ndbs; i++) {
    const struct proxy_sumdb_db *db = proxy_sumdb_at(s->sumdb, i);
    struct counts c = {0};
    store_sumdb_each(s->store, db->spec.key.name, "", count_entry, &c);
    const char *from =
        db->spec.url[0] != '\0' ? db->spec.url : "via upstreams, then direct";
    int down = (p->unreachable >> i) & 1u;
    if (p->fmt == PROXY_FORMAT_JSON) {
      fprintf(f, "%s{\"name\":", i > 0 ? "," : "");
      diag_json_write(f, db->spec.key.name);
      fprintf(f, ",\"key\":");
      diag_json_write(f, db->spec.key.text);
      fprintf(f, ",\"lookups\":%" PRIu64 ",\"tiles\":%" PRIu64 "}", c.lookups,
              c.tiles);
    } else if (p->fmt == PROXY_FORMAT_HTML) {
      fputs("<tr><td>", f);
      page_esc(f, db->spec.key.name);
      fputs("</td><td>", f);
      page_esc(f, from);
      fprintf(f,
              "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
              "</td><td>%s</td></tr>\n",
              c.lookups, c.tiles, down ? "unreachable now" : "reachable");
    } else {
      fprintf(f,
              "checksum database %s (%s): %" PRIu64 " lookups, %" PRIu64
              " tiles cached%s\n",
              db->spec.key.name, from, c.lookups, c.tiles,
              down ? "; unreachable now" : "");
    }
  }
  if (p->fmt == PROXY_FORMAT_JSON) {
    struct wants lacks = {f, 0};
    fputs("],\"missing\":[", f);
    store_misses_each(s->store, 0, json_miss, &lacks);
    fputs("],\"missing_txt\":\"/diag/mirror/missing.txt\"}\n", f);
  } else if (p->fmt == PROXY_FORMAT_HTML) {
    page_table_end(f, ndbs);
    char *list = NULL;
    size_t len = 0;
    FILE *l = open_memstream(&list, &len);
    if (l != NULL) {
      proxy_mirror_wants_lines(s->store, 0, l, NULL);
      fclose(l);
    }
    fputs("<h2>Asked for and lacking</h2><p><a "
          "href=\"/diag/mirror/missing.txt\">missing.txt</a>, for "
          "<code>modproxy export --from</code></p><pre id=\"missing\">",
          f);
    page_esc(f, list != NULL && list[0] != '\0' ? list : "nothing\n");
    fputs("</pre>", f);
    free(list);
    page_end(f, proxy_conn_target(p->conn));
  } else {
    fputs("\nasked for and lacking (download: /diag/mirror/missing.txt, for "
          "modproxy export --from):\n",
          f);
    size_t n = 0;
    proxy_mirror_wants_lines(s->store, 0, f, &n);
    if (n == 0)
      fputs("nothing\n", f);
  }
  fclose(f);
}

static void on_page_done(uv_work_t *w, int status) {
  static const char *const types[] = {
      [PROXY_FORMAT_TEXT] = "text/plain; charset=utf-8",
      [PROXY_FORMAT_HTML] = "text/html; charset=utf-8",
      [PROXY_FORMAT_JSON] = "application/json",
  };
  struct mirror_page *p = w->data;
  struct proxy_conn *c = p->conn;
  if (!proxy_conn_gone(c)) {
    proxy_conn_send_local(
        c, 200, p->wants ? "text/plain; charset=utf-8" : types[p->fmt], p->text,
        p->len, "Vary: Accept\r\n");
  }
  proxy_conn_release(c);
  free(p->text);
  free(p);
}

void proxy_route_mirror(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  struct mirror_page *p = calloc(1, sizeof *p);
  if (p == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  p->conn = c;
  p->s = s;
  p->fmt = proxy_format_negotiate(proxy_conn_target(c), proxy_conn_accept(c));
  p->wants = strncmp(proxy_conn_target(c), "/diag/mirror/missing.txt", 24) == 0;
  for (int i = 0; i < proxy_sumdb_count(s->sumdb); i++)
    if (proxy_sumdb_at(s->sumdb, i)->unreachable_until > uv_now(s->loop))
      p->unreachable |= 1u << i;
  p->offline = s->cfg->offline;
  p->verify_sumdb = s->cfg->verify_sumdb;
  p->stale_after_s = s->cfg->offline_stale_after_s;
  p->work.data = p;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &p->work, on_page, on_page_done) < 0) {
    proxy_conn_release(c);
    free(p);
    proxy_conn_send_text(c, 503, "could not queue the page", NULL);
  }
}
