/*
 * What the files of proxy/sumdb share: the databases' state behind the
 * opaque struct proxy_sumdb. Private to proxy/sumdb.
 */
#ifndef PROXY_SUMDB_INTERNAL_H
#define PROXY_SUMDB_INTERNAL_H

#include "sumdb_proxy.h"

struct proxy_sumdb {
  struct proxy_sumdb_db dbs[PROXY_SUMDB_MAX_DBS];
  int ndbs;
  uv_loop_t *loop;
  struct store *store;
  proxy_sumdb_read_fn read;
  void *reader;
  /** Verification failures by cause; a mismatch is found on a worker
   *  thread, hence atomic (relaxed: a count, ordering nothing). */
  _Atomic uint64_t errors[PROXY_SUMDB_ERRORS];
};

#endif
