/*
 * fuzz_recbuf.c: a sink's output buffer of whole records (recbuf.c) against a
 * model, driven by a sequence of operations as the sinks use them: add records
 * (some of up to 64 KiB, to grow and compact the buffer), write to a pipe that takes
 * a few KiB at a time, let the peer read, confirm positions, rewind (a
 * reconnect), clear; or, as the http sink does, copy records out and drop them.
 * Checked: what the peer reads on each connection is whole records, in order,
 * from the first one not confirmed; the records held, their bytes and origin,
 * and the positions are the model's; confirm counts what it releases.
 *
 * LINK: recbuf.o util.o
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recbuf.h"

#define MAX_RECS 4096

static int pfd[2] = {-1, -1};

/* Record k: len[k] bytes of a pattern that says which record it is. */
static size_t lens[MAX_RECS];
static uint64_t ends[MAX_RECS]; /* absolute end, after its newline */
static char pattern[64 * 1024 + 26];

/* Record k's bytes (lens[k] of them): where the pattern starts says which it is. */
static const char *content(size_t k)
{
	return pattern + (k * 7) % 26;
}

struct peer {
	char *line;
	size_t len, cap;
	size_t expect; /* the record the next whole line must be */
};

static void peer_byte(struct peer *p, char c, size_t next_k)
{
	if (c != '\n') {
		if (p->len == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 1024;
			p->line = realloc(p->line, p->cap);
		}
		p->line[p->len++] = c;
		return;
	}
	size_t k = p->expect++;
	if (k >= next_k || p->len != lens[k] ||
	    (p->len > 0 && memcmp(p->line, content(k), p->len) != 0))
		abort();
	p->len = 0;
}

static void peer_read(struct peer *p, size_t max, size_t next_k)
{
	char buf[4096];
	while (max > 0) {
		ssize_t n = read(pfd[0], buf, max < sizeof(buf) ? max : sizeof(buf));
		if (n <= 0)
			return;
		for (ssize_t i = 0; i < n; i++)
			peer_byte(p, buf[i], next_k);
		max -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (pfd[0] < 0) {
		if (pipe2(pfd, O_NONBLOCK) < 0)
			abort();
		fcntl(pfd[1], F_SETPIPE_SZ, 4096);
		for (size_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = (char)('a' + i % 26);
	}
	if (size < 1)
		return 0;
	struct recbuf b = {0};
	bool copy_mode = data[0] & 1; /* the http sink: copy out and drop, no write() */
	b.keep_meta = data[0] & 2;
	struct peer peer = {0};
	size_t next_k = 0, first = 0; /* records [first, next_k) are held */
	uint64_t total = 0, written = 0;

	for (size_t i = 1; i + 1 < size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		switch (op % 8) {
		case 0:
		case 1: { /* add */
			if (next_k == MAX_RECS)
				break;
			size_t k = next_k++;
			lens[k] = (op & 0x80) ? (size_t)arg * 256 : arg;
			struct recbuf_meta m = {.seq = k, .index = k * 3, .source = (uint32_t)k};
			recbuf_add_meta(&b, content(k), lens[k], &m);
			total += lens[k] + 1;
			ends[k] = total;
			break;
		}
		case 2: /* write */
			if (!copy_mode) {
				ssize_t n = recbuf_unwritten(&b) > 0 ? recbuf_write(&b, pfd[1]) : 0;
				if (n > 0)
					written += (uint64_t)n;
			}
			break;
		case 3: /* the peer reads */
			peer_read(&peer, (size_t)arg * 64 + 1, next_k);
			break;
		case 4: { /* confirm a position up to what was written */
			uint64_t start = first < next_k ? ends[first] - lens[first] - 1 : total;
			uint64_t pos = start + (written > start ? arg % (written - start + 1) : 0);
			if (op & 0x80)
				pos = written;
			uint64_t want = 0;
			while (first < next_k && ends[first] <= pos && ends[first] <= written) {
				first++;
				want++;
			}
			if (recbuf_confirm(&b, pos) != want)
				abort();
			break;
		}
		case 5: /* copy mode: drop the first n; write mode: a reconnect */
			if (copy_mode) {
				size_t n = arg % (next_k - first + 1);
				recbuf_drop(&b, n);
				if (n > 0) {
					first += n;
					if (written < ends[first - 1])
						written = ends[first - 1];
				}
			} else {
				peer_read(&peer, SIZE_MAX, next_k);
				recbuf_rewind(&b);
				written = first < next_k ? ends[first] - lens[first] - 1 : total;
				peer.len = 0;
				peer.expect = first;
			}
			break;
		case 6: /* clear: the records are lost, the peer starts again */
			if (recbuf_clear(&b) != next_k - first)
				abort();
			peer_read(&peer, SIZE_MAX, next_k);
			first = next_k;
			written = total;
			peer.len = 0;
			peer.expect = next_k;
			break;
		default:
			break;
		}
		/* The buffer holds the model's records, byte for byte. */
		if (recbuf_records(&b) != next_k - first ||
		    recbuf_confirmed_pos(&b) !=
			(first < next_k ? ends[first] - lens[first] - 1 : total) ||
		    recbuf_written_pos(&b) != written || recbuf_unwritten(&b) != total - written ||
		    recbuf_held(&b) != total - recbuf_confirmed_pos(&b))
			abort();
		for (size_t j = 0; j < recbuf_records(&b); j = j < 2 ? j + 1 : j * 2) {
			if (j * 2 >= recbuf_records(&b) && j + 1 < recbuf_records(&b))
				j = recbuf_records(&b) - 1; /* and the last */
			size_t k = first + j, len;
			const char *r = recbuf_record(&b, j, &len);
			if (len != lens[k] || memcmp(r, content(k), len) != 0 ||
			    recbuf_record_end(&b, j) != ends[k])
				abort();
			const struct recbuf_meta *m = recbuf_record_meta(&b, j);
			if (b.keep_meta && (m == NULL || m->seq != k || m->index != k * 3))
				abort();
		}
	}
	/* Whatever is still in the pipe belongs to this input's connection. */
	peer_read(&peer, SIZE_MAX, next_k);
	free(peer.line);
	recbuf_free(&b);
	return 0;
}
