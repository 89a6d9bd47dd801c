/*
 * spool.h: unfinished items kept across a stop (SPEC shutdown.spool).
 *
 * A spool is written whole or not at all: to PATH.tmp, fsync'ed, renamed over
 * PATH, and the directory fsync'ed, so a crash at any point leaves either the
 * old state or the new one, never a torn file. The format is binary-safe and
 * ends with a record count, so a damaged file is detected; such a file is moved
 * aside (PATH.corrupt-TIME) and reported, never replayed and never a crash loop.
 *
 *   SLUICE-SPOOL 1\n
 *   R <stage> <source> <seq> <index> <attempts> <len>\n<len bytes>\n   (one per item)
 *   E <count>\n
 */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool_writer;

/* Names are stored whole: the loader keeps them this short (conf.h CONF_NAME_MAX). */
#define SPOOL_NAME_MAX 127

struct spool_record {
	char stage[SPOOL_NAME_MAX + 1];
	char source[SPOOL_NAME_MAX + 1];
	uint64_t seq;
	uint64_t index;
	uint32_t attempts;
	const char *data;
	size_t len;
};

struct spool_writer *spool_begin(const char *path, char *err, size_t errlen);
int spool_add(struct spool_writer *w, const struct spool_record *r);
/* Makes the spool durable and visible at its path; frees w. Blocks: not on the loop. */
int spool_commit(struct spool_writer *w, char *err, size_t errlen);
/*
 * The same with the fsyncs and the rename on the bio pool (bio.h), for the loop: cb
 * runs back on the loop with 0, or -1 and the message; then w is freed.
 */
typedef void (*spool_commit_cb)(void *arg, int rc, const char *err);
void spool_commit_async(struct spool_writer *w, spool_commit_cb cb, void *arg);
void spool_abort(struct spool_writer *w);

typedef void (*spool_record_cb)(void *arg, const struct spool_record *r);
/*
 * Reads path and calls cb for each record. Returns the number of records, 0 if
 * the file does not exist, -1 if it is damaged (then it was moved aside and err
 * says where). A record longer than max_len (max_item_bytes: no item is longer)
 * is damage too, as is anything else that does not parse exactly.
 */
long spool_read(const char *path, uint64_t max_len, spool_record_cb cb, void *arg, char *err,
		size_t errlen);

#endif
