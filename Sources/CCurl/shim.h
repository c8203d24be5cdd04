// libcurl and OpenSSL's libcrypto, loaded on first use (like CLibPQ): only a config with an
// s3:// repository needs HTTP, TLS and SHA-256, and linking them would load libcurl's ~30
// dependencies at every xarchive/xrestore start-up. S3Client.swift and Digest.swift call these
// walmgr_* wrappers. libcrypto's few functions are declared here so its headers are not needed.
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <curl/curl.h>

static inline void *walmgr_curl_handle(void) {
    static void *handle;
    if (!handle) handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    return handle;
}

static inline void *walmgr_crypto_handle(void) {
    static void *handle;
    if (!handle) handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    return handle;
}

// NULL when the library loaded, else dlerror()'s message.
static inline const char *walmgr_curl_load(void) {
    return walmgr_curl_handle() ? NULL : dlerror();
}
static inline const char *walmgr_crypto_load(void) {
    return walmgr_crypto_handle() ? NULL : dlerror();
}

#define WALMGR_DL_FN(lib, ret, name, params, args)                        \
    static inline ret walmgr_##name params {                             \
        static ret(*fn) params;                                          \
        if (!fn) fn = (ret(*) params)dlsym(walmgr_##lib##_handle(), #name); \
        return fn args;                                                  \
    }

WALMGR_DL_FN(curl, CURLcode, curl_global_init, (long flags), (flags))
WALMGR_DL_FN(curl, CURL *, curl_easy_init, (void), ())
WALMGR_DL_FN(curl, void, curl_easy_cleanup, (CURL *c), (c))
WALMGR_DL_FN(curl, CURLcode, curl_easy_perform, (CURL *c), (c))
WALMGR_DL_FN(curl, const char *, curl_easy_strerror, (CURLcode e), (e))
WALMGR_DL_FN(curl, struct curl_slist *, curl_slist_append,
             (struct curl_slist *l, const char *s), (l, s))
WALMGR_DL_FN(curl, void, curl_slist_free_all, (struct curl_slist *l), (l))

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one wrapper
// per argument type.
typedef CURLcode (*walmgr_curl_vararg_fn)(CURL *, int, ...);
static inline walmgr_curl_vararg_fn walmgr_curl_fn(const char *name) {
    return (walmgr_curl_vararg_fn)dlsym(walmgr_curl_handle(), name);
}
static inline CURLcode walmgr_curl_setopt_long(CURL *c, CURLoption o, long v) {
    static walmgr_curl_vararg_fn fn;
    if (!fn) fn = walmgr_curl_fn("curl_easy_setopt");
    return fn(c, o, v);
}
static inline CURLcode walmgr_curl_setopt_ptr(CURL *c, CURLoption o, const void *v) {
    static walmgr_curl_vararg_fn fn;
    if (!fn) fn = walmgr_curl_fn("curl_easy_setopt");
    return fn(c, o, v);
}
static inline CURLcode walmgr_curl_setopt_off(CURL *c, CURLoption o, curl_off_t v) {
    static walmgr_curl_vararg_fn fn;
    if (!fn) fn = walmgr_curl_fn("curl_easy_setopt");
    return fn(c, o, v);
}
static inline CURLcode walmgr_curl_getinfo_long(CURL *c, CURLINFO i, long *v) {
    static walmgr_curl_vararg_fn fn;
    if (!fn) fn = walmgr_curl_fn("curl_easy_getinfo");
    return fn(c, i, v);
}

// libcrypto (OpenSSL 3): EVP digests and one-shot HMAC.
typedef struct walmgr_evp_md walmgr_evp_md;
typedef struct walmgr_evp_md_ctx walmgr_evp_md_ctx;
WALMGR_DL_FN(crypto, const walmgr_evp_md *, EVP_sha256, (void), ())
WALMGR_DL_FN(crypto, const walmgr_evp_md *, EVP_md5, (void), ())
WALMGR_DL_FN(crypto, walmgr_evp_md_ctx *, EVP_MD_CTX_new, (void), ())
WALMGR_DL_FN(crypto, void, EVP_MD_CTX_free, (walmgr_evp_md_ctx *c), (c))
WALMGR_DL_FN(crypto, int, EVP_DigestInit_ex,
             (walmgr_evp_md_ctx *c, const walmgr_evp_md *t, void *e), (c, t, e))
WALMGR_DL_FN(crypto, int, EVP_DigestUpdate,
             (walmgr_evp_md_ctx *c, const void *d, size_t n), (c, d, n))
WALMGR_DL_FN(crypto, int, EVP_DigestFinal_ex,
             (walmgr_evp_md_ctx *c, unsigned char *md, unsigned int *n), (c, md, n))
WALMGR_DL_FN(crypto, unsigned char *, HMAC,
             (const walmgr_evp_md *t, const void *key, int keylen, const unsigned char *d,
              size_t n, unsigned char *md, unsigned int *mdlen),
             (t, key, keylen, d, n, md, mdlen))
