// libpq, loaded on first use. Most walmgr runs (xarchive, xrestore: once per WAL segment) never
// talk to a database, and linking libpq at start-up pulls in about 30 libraries (OpenSSL,
// Kerberos, LDAP, GnuTLS) whose relocation cost more than the rest of walmgr's start-up.
// PGConnection.swift calls these walmgr_PQ* wrappers; walmgr_pq_load() says whether libpq loaded.
#include <dlfcn.h>
#include <stddef.h>
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>  // Debian/Ubuntu's libpq-dev
#endif

static inline void *walmgr_pq_handle(void) {
    static void *handle;
    if (!handle) handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    return handle;
}

// NULL when libpq loaded, else dlerror()'s message.
static inline const char *walmgr_pq_load(void) {
    return walmgr_pq_handle() ? NULL : dlerror();
}

#define WALMGR_PQ_FN(ret, name, params, args)                          \
    static inline ret walmgr_##name params {                           \
        static ret(*fn) params;                                        \
        if (!fn) fn = (ret(*) params)dlsym(walmgr_pq_handle(), #name); \
        return fn args;                                                \
    }

WALMGR_PQ_FN(PGconn *, PQconnectdbParams,
             (const char *const *k, const char *const *v, int e), (k, v, e))
WALMGR_PQ_FN(ConnStatusType, PQstatus, (const PGconn *c), (c))
WALMGR_PQ_FN(char *, PQerrorMessage, (const PGconn *c), (c))
WALMGR_PQ_FN(char *, PQhost, (const PGconn *c), (c))
WALMGR_PQ_FN(char *, PQport, (const PGconn *c), (c))
WALMGR_PQ_FN(int, PQserverVersion, (const PGconn *c), (c))
WALMGR_PQ_FN(void, PQfinish, (PGconn *c), (c))
WALMGR_PQ_FN(PQnoticeProcessor, PQsetNoticeProcessor,
             (PGconn *c, PQnoticeProcessor p, void *a), (c, p, a))
WALMGR_PQ_FN(PGresult *, PQexecParams,
             (PGconn *c, const char *q, int n, const Oid *t, const char *const *v,
              const int *l, const int *f, int r),
             (c, q, n, t, v, l, f, r))
WALMGR_PQ_FN(void, PQclear, (PGresult *r), (r))
WALMGR_PQ_FN(ExecStatusType, PQresultStatus, (const PGresult *r), (r))
WALMGR_PQ_FN(char *, PQresultErrorMessage, (const PGresult *r), (r))
WALMGR_PQ_FN(char *, PQresultErrorField, (const PGresult *r, int f), (r, f))
WALMGR_PQ_FN(int, PQnfields, (const PGresult *r), (r))
WALMGR_PQ_FN(int, PQntuples, (const PGresult *r), (r))
WALMGR_PQ_FN(char *, PQfname, (const PGresult *r, int i), (r, i))
WALMGR_PQ_FN(int, PQgetisnull, (const PGresult *r, int t, int f), (r, t, f))
WALMGR_PQ_FN(char *, PQgetvalue, (const PGresult *r, int t, int f), (r, t, f))
WALMGR_PQ_FN(char *, PQcmdTuples, (PGresult *r), (r))
// Replication (walmgr receive): simple-query commands and the COPY BOTH stream.
WALMGR_PQ_FN(PGresult *, PQexec, (PGconn *c, const char *q), (c, q))
WALMGR_PQ_FN(PGresult *, PQgetResult, (PGconn *c), (c))
WALMGR_PQ_FN(int, PQgetCopyData, (PGconn *c, char **b, int a), (c, b, a))
WALMGR_PQ_FN(int, PQputCopyData, (PGconn *c, const char *b, int n), (c, b, n))
WALMGR_PQ_FN(int, PQputCopyEnd, (PGconn *c, const char *e), (c, e))
WALMGR_PQ_FN(int, PQflush, (PGconn *c), (c))
WALMGR_PQ_FN(int, PQsocket, (const PGconn *c), (c))
WALMGR_PQ_FN(int, PQconsumeInput, (PGconn *c), (c))
WALMGR_PQ_FN(void, PQfreemem, (void *p), (p))
