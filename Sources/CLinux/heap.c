#include <malloc.h>
#include "include/clinux_heap.h"

int clinux_heap_limit_arenas(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

int clinux_heap_trim(void) { return malloc_trim(0); }
