// glibc's malloc tuning, which Swift's Glibc module does not import (<malloc.h>).
#ifndef SWIFTLET_CLINUX_HEAP_H
#define SWIFTLET_CLINUX_HEAP_H

/// mallopt(M_ARENA_MAX, arenas): 1 on success, 0 on failure.
int clinux_heap_limit_arenas(int arenas);
/// malloc_trim(0): 1 if memory was returned to the kernel, 0 if none could be.
int clinux_heap_trim(void);

#endif
