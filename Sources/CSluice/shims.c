#define _GNU_SOURCE
#include <malloc.h>
#include "CSluice.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

const uint32_t CSLUICE_EPOLLIN = EPOLLIN;
const uint32_t CSLUICE_EPOLLOUT = EPOLLOUT;
const uint32_t CSLUICE_EPOLLERR = EPOLLERR;
const uint32_t CSLUICE_EPOLLHUP = EPOLLHUP;
const uint32_t CSLUICE_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CSLUICE_EPOLLET = EPOLLET;

const int CSLUICE_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int CSLUICE_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int CSLUICE_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

int csluice_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int csluice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t tag) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, op, fd, &ev);
}

#define CSLUICE_WAIT_CHUNK 256

int csluice_epoll_wait(int epfd, csluice_event *out, int capacity, int timeout_ms) {
    struct epoll_event raw[CSLUICE_WAIT_CHUNK];
    if (capacity > CSLUICE_WAIT_CHUNK) capacity = CSLUICE_WAIT_CHUNK;
    int n = epoll_wait(epfd, raw, capacity, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = raw[i].events;
        out[i].tag = raw[i].data.u64;
    }
    return n;
}

int csluice_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int csluice_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    return n == (ssize_t)sizeof one ? 0 : -1;
}

int csluice_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    return n == (ssize_t)sizeof value ? 0 : -1;
}

int csluice_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int csluice_stream_socket(int family) {
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static int set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int csluice_set_reuseaddr(int fd) { return set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1); }
int csluice_set_reuseport(int fd) { return set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1); }
int csluice_set_nodelay(int fd) { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1); }

int csluice_set_linger_zero(int fd) {
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

int csluice_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
    return err;
}

uint64_t csluice_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t csluice_monotonic_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void csluice_realtime(int64_t *seconds, int32_t *nanoseconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *seconds = (int64_t)ts.tv_sec;
    *nanoseconds = (int32_t)ts.tv_nsec;
}

void csluice_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    pthread_setname_np(pthread_self(), buf);
}

uint64_t csluice_resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (ok != 2) return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

int csluice_release_file_pages(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return -1;
    char line[512];
    int released = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        unsigned long offset;
        char dev[16];
        unsigned long inode;
        if (sscanf(line, "%lx-%lx %4s %lx %15s %lu", &start, &end, perms, &offset, dev, &inode) != 6) continue;
        if (inode == 0 || perms[1] == 'w') continue;
        if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) released++;
        madvise((void *)start, end - start, MADV_RANDOM);
    }
    fclose(maps);
    return released;
}

// MARK: CRC-32C

static uint32_t crc32c_table[256];
static int crc32c_has_instruction;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[n] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc32c_has_instruction = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_software(uint32_t crc, const uint8_t *p, size_t length) {
    while (length--) crc = crc32c_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const uint8_t *p, size_t length) {
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t csluice_crc32c(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    pthread_once(&crc32c_once, crc32c_init);
#if defined(__x86_64__)
    if (crc32c_has_instruction) return ~crc32c_hardware(crc, p, length);
#endif
    return ~crc32c_software(crc, p, length);
}

int csluice_release_free_heap(void) {
    return malloc_trim(0);
}
