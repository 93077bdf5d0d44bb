/*
 * Diagnostics: explanations written for the person at the terminal.
 *
 * The go command prints a proxy's text/plain error body under "server
 * response:" only when it fits its window: at most 8 non-blank lines, 648
 * bytes counting the "\n\t" it puts between lines, printable UTF-8, and it
 * stops at the first blank line (GOPROXY-PROTOCOL.md section 3).
 */
#ifndef MODPROXY_DIAG_H
#define MODPROXY_DIAG_H

#include <stddef.h>

/* cmd/go/internal/web: maxErrorDetailLines and maxErrorDetailBytes. */
#define DIAG_WINDOW_LINES 8
#define DIAG_WINDOW_BYTES 648

/**
 * Fits text (lines separated by '\n') into the go command's window and
 * writes it to out (NUL-terminated, each line ending in '\n'): blank lines
 * are dropped, bytes that are not printable UTF-8 become '?', and when the
 * text is too long the middle lines are cut (the last line, which says where
 * to look next, is kept). out needs DIAG_WINDOW_BYTES + 16 bytes. Returns
 * the length written.
 */
size_t diag_text_fit(const char *text, char *out, size_t outlen);

#endif
