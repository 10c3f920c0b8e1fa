// zlib, for gzip-compressed image layers. inflateInit2 is a macro (it passes the header's
// version and struct size), so Swift calls it through this inline function.
#ifndef SWIFTLET_CZLIB_H
#define SWIFTLET_CZLIB_H
#include <zlib.h>

static inline int swiftlet_inflate_init2(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
/// deflateInit is a macro too (SPDY header blocks are deflated with a preset dictionary).
static inline int swiftlet_deflate_init(z_stream *stream, int level) {
    return deflateInit(stream, level);
}

/// inflateInit, for zlib-wrapped streams (SPDY header blocks).
static inline int swiftlet_inflate_init(z_stream *stream) {
    return inflateInit(stream);
}
#endif
