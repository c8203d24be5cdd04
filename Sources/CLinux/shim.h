// Linux calls that Swift's Glibc module does not import (they need _GNU_SOURCE).
#pragma once
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

// sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE): start writing these dirty pages to
// disk without waiting. A hint for a later fsync; returns -1 with errno where unsupported.
static inline int walmgr_start_writeback(int fd, long long offset, long long count) {
#ifdef SYS_sync_file_range
    return (int)syscall(SYS_sync_file_range, fd, offset, count, 2 /* SYNC_FILE_RANGE_WRITE */);
#else
    (void)fd; (void)offset; (void)count;
    return -1;
#endif
}

// syncfs(fd): write out every dirty file of the file system holding fd, in one call.
static inline int walmgr_syncfs(int fd) {
#ifdef SYS_syncfs
    return (int)syscall(SYS_syncfs, fd);
#else
    (void)fd;
    sync();
    return 0;
#endif
}

// copy_file_range(in, NULL, out, NULL, count, 0): copies in the kernel from both files' offsets.
// Returns -1 with errno ENOSYS where the call does not exist (callers fall back to sendfile).
static inline long walmgr_copy_file_range(int in, int out, unsigned long count) {
#ifdef SYS_copy_file_range
    return (long)syscall(SYS_copy_file_range, in, (void *)0, out, (void *)0, count, 0u);
#else
    (void)in; (void)out; (void)count;
    errno = ENOSYS;
    return -1;
#endif
}

// memfd_create(name, MFD_CLOEXEC): an anonymous in-memory file, or -1 where unsupported.
static inline int walmgr_memfd(const char *name) {
#ifdef SYS_memfd_create
    return (int)syscall(SYS_memfd_create, name, 1 /* MFD_CLOEXEC */);
#else
    (void)name;
    return -1;
#endif
}
