/* cmd/journal.h: the daemon's state file as an append-only journal: its byte
 * format, the rule for reading a file a crash may have cut short, and the
 * file operations (append + fdatasync; an atomic rewrite that compacts it).
 * What a record means (a spawn, a teardown) is state.c's business.
 *
 * Format 2: the line "dockmux-state 2\n", then records
 *   u32 len | u32 crc | len bytes
 * big-endian, 1 <= len <= the caller's maximum, crc = CRC-32C (Castagnoli) of
 * the four length bytes and the len bytes. Format 1 ("dockmux-state 1\n",
 * records u32 len | bytes, no crc) was only ever written whole and renamed
 * into place, so it is read all or nothing.
 *
 * Reading format 2: records are taken in order while they check. A record
 * that does not check (a length out of bounds, bytes missing at the end of
 * the file, a crc mismatch) is a torn tail when no whole, checking record
 * starts anywhere after it: it and everything after it are dropped (what a
 * crash between write and fdatasync leaves: a prefix of the last records, or
 * zeros where a power loss left their blocks unwritten). When a checking
 * record does follow, the damage is before the tail and the file is refused.
 */
#ifndef DMX_CMD_JOURNAL_H
#define DMX_CMD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_MAGIC "dockmux-state 2\n"
#define JOURNAL_MAGIC_V1 "dockmux-state 1\n"
#define JOURNAL_MAGIC_LEN 16
#define JOURNAL_REC_HEAD 8
/* A state file larger than this is refused rather than read into memory:
 * 30,000 containers with long policies are ~40 MiB. */
#define JOURNAL_FILE_MAX (1u << 30)

/* CRC-32C of n bytes, continuing from crc (0 to start). */
uint32_t journal_crc(uint32_t crc, const void *p, size_t n);

/* Write the 8-byte head of a record of n bytes at p into head. */
void journal_rec_head(uint8_t head[JOURNAL_REC_HEAD], const void *p, uint32_t n);

struct journal_scan {
	int version;        /* 1 or 2 */
	size_t records;     /* records handed to the callback */
	size_t valid;       /* bytes of whole, checking records (header included) */
	size_t dropped;     /* bytes of a torn tail after them (format 2 only) */
	size_t at;          /* where the trouble starts: the tail, or the damage */
	const char *why;    /* what was wrong there, or NULL */
};

/* Walk a whole file image: rec(ud, bytes, n) for each record in order, or,
 * once the file is known to be good up to its tail, nothing more. Returns 0
 * (a torn tail was dropped when out->dropped > 0), -EBADMSG when the file is
 * not a state file, is damaged before its tail or (format 1) holds any
 * malformed byte, or rec's first negative return (out->why then says
 * "malformed record" unless rec set it). out is always filled; rec may have
 * been called for records before a refusal (apply to a scratch copy). */
int journal_scan(const uint8_t *buf, size_t len, size_t rec_max,
		 int (*rec)(void *ud, const uint8_t *p, size_t n), void *ud,
		 struct journal_scan *out);

/* Read the file at path into *buf (malloc'd; wipe and free it), never
 * blocking and never following a symlink: a FIFO, device, socket or
 * directory is -EINVAL with *why, a symlink -ELOOP, over JOURNAL_FILE_MAX
 * -EFBIG. -ENOENT when there is none. */
int journal_read(const char *path, uint8_t **buf, size_t *len, const char **why);

/* The open journal. A failed append or sync leaves the file behind memory
 * (maybe with a partial record at its end): err is set and the next write
 * must be a rewrite, never an append after the partial record. */
struct journal {
	const char *path;
	int fd;            /* the current file, open for writing; -1: none yet */
	size_t size;       /* bytes written to it */
	int err;           /* sticky: the file needs a rewrite */
};

void journal_init(struct journal *j, const char *path);
/* Close the file (after a handoff the old process must never write again). */
void journal_close(struct journal *j);
/* Append n bytes (whole records) and fdatasync: durable on 0. */
int journal_append(struct journal *j, const void *p, size_t n);

/* Rewrite the whole file atomically: a new file "<path>.tmp" (0600, never
 * following a symlink), the header, then fill(ud, w) which adds records with
 * journal_put; fsync, rename over path, fsync of the directory. On success
 * the new file is the journal (err cleared); on failure the old one stays
 * (and err is set if it was already). */
struct journal_writer;
int journal_rewrite(struct journal *j, int (*fill)(void *ud, struct journal_writer *w), void *ud);
/* Add one record to a rewrite: 0 or -errno. */
int journal_put(struct journal_writer *w, const void *p, uint32_t n);

#endif
