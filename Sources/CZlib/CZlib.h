// zlib, for gzip-compressed image layers. inflateInit2 is a macro (it passes the header's
// version and struct size), so Swift calls it through this inline function.
#ifndef SWIFTLET_CZLIB_H
#define SWIFTLET_CZLIB_H
#include <zlib.h>

static inline int swiftlet_inflate_init2(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
