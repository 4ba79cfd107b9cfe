// Counts heap allocations for the benchmarks: LD_PRELOAD this library and read
// `sluice_malloc_calls()` (found with dlsym) before and after the code being measured.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static atomic_ulong calls;

unsigned long sluice_malloc_calls(void) { return atomic_load(&calls); }

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t size) { atomic_fetch_add(&calls, 1); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add(&calls, 1); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add(&calls, 1); return __libc_realloc(p, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&calls, 1);
    void *p = __libc_memalign(alignment, size);
    if (!p) return 12;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t size) { atomic_fetch_add(&calls, 1); return __libc_memalign(alignment, size); }
