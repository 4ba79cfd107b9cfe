// The few kernel interfaces Glibc's Swift overlay does not import cleanly: the packed
// `struct epoll_event` (its union cannot be read from Swift), eventfd/timerfd constants that are
// macros, accept4 flags, and socket options whose constants are enums on some libcs.
// Every function is a thin, allocation-free pass-through; errors come back as -1 with errno set.
#ifndef CSLUICE_H
#define CSLUICE_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A readiness event as Swift sees it: the epoll mask and the 64-bit user tag, unpacked.
typedef struct {
    uint32_t events;
    uint64_t tag;
} csluice_event;

extern const uint32_t CSLUICE_EPOLLIN;
extern const uint32_t CSLUICE_EPOLLOUT;
extern const uint32_t CSLUICE_EPOLLERR;
extern const uint32_t CSLUICE_EPOLLHUP;
extern const uint32_t CSLUICE_EPOLLRDHUP;
extern const uint32_t CSLUICE_EPOLLET;

extern const int CSLUICE_EPOLL_CTL_ADD;
extern const int CSLUICE_EPOLL_CTL_MOD;
extern const int CSLUICE_EPOLL_CTL_DEL;

int csluice_epoll_create(void);
int csluice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t tag);
/// Waits for at most `capacity` events and copies them, unpacked, into `out`.
int csluice_epoll_wait(int epfd, csluice_event *out, int capacity, int timeout_ms);

/// A non-blocking, close-on-exec eventfd counter.
int csluice_eventfd(void);
int csluice_eventfd_signal(int fd);
/// Drains the counter; returns 0 or -1 (EAGAIN when it was already zero).
int csluice_eventfd_drain(int fd);

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int csluice_accept(int fd, struct sockaddr *addr, socklen_t *len);
/// A non-blocking, close-on-exec stream socket of the given family.
int csluice_stream_socket(int family);

int csluice_set_reuseaddr(int fd);
int csluice_set_reuseport(int fd);
int csluice_set_nodelay(int fd);
int csluice_set_linger_zero(int fd);
/// The pending socket error (SO_ERROR), or -1 when it cannot be read.
int csluice_socket_error(int fd);

/// Monotonic nanoseconds (CLOCK_MONOTONIC); coarse variant is cheaper and tick-granular.
uint64_t csluice_monotonic_ns(void);
uint64_t csluice_monotonic_coarse_ns(void);
/// Wall-clock seconds and nanoseconds since the epoch (CLOCK_REALTIME).
void csluice_realtime(int64_t *seconds, int32_t *nanoseconds);

/// Names the calling thread (at most 15 bytes are kept by the kernel).
void csluice_set_thread_name(const char *name);

/// Resident set size of this process in bytes, read from /proc/self/statm; 0 if unknown.
uint64_t csluice_resident_bytes(void);
/// Asks the kernel to reclaim the clean, file-backed pages this process has mapped (code and
/// read-only data of the binary and its libraries), and marks those mappings MADV_RANDOM so a
/// later fault maps the page it needs rather than a 64 KiB neighbourhood. Pages still in use
/// fault back in on their next access. Returns the number of mappings advised, or -1.
int csluice_release_file_pages(void);
/// Returns the free memory inside malloc's heaps to the kernel (glibc's malloc_trim(0), which
/// also releases whole free pages between allocations, not only at a heap's top). Returns 1 if
/// memory was released.
int csluice_release_free_heap(void);

/// CRC-32C (Castagnoli) of `length` bytes, continuing from `crc` (0 to start): the checksum of
/// the storage log's records. Uses the CPU's crc32 instruction where there is one.
uint32_t csluice_crc32c(uint32_t crc, const void *data, size_t length);

#ifdef __cplusplus
}
#endif

#endif
