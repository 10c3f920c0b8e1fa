// Pseudo-terminals for `exec -t` and tty containers: a master/slave pair, the window size,
// and making a descriptor the controlling terminal (ioctl is variadic: Swift cannot call it).
#ifndef SWIFTLET_CLINUX_TTY_H
#define SWIFTLET_CLINUX_TTY_H

/// Opens a new pty pair, both ends close-on-exec; the slave is opened with O_NOCTTY (the child
/// claims it with clinux_set_ctty after setsid). Returns 0, or -1 with errno.
int clinux_openpty(int *master, int *slave);

/// TIOCSWINSZ on a pty (either end). Returns 0, or -1 with errno.
int clinux_set_winsize(int fd, unsigned short rows, unsigned short cols);

/// TIOCGWINSZ. Returns 0, or -1 with errno.
int clinux_get_winsize(int fd, unsigned short *rows, unsigned short *cols);

/// TIOCSCTTY: makes `fd` (a terminal) the controlling terminal of the calling session leader.
int clinux_set_ctty(int fd);

/// Puts a terminal in raw mode (cfmakeraw) so bytes pass through unchanged.
int clinux_make_raw(int fd);

#endif
