/* dead-letter.c: a failed item as a dead-letter JSON line (see dead-letter.h). */
#include "dead-letter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

char *dead_letter_json(const char *stage, const char *source, const struct item *it,
		       const struct failure *f)
{
	char when[64], sig[16], status[16];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	/* JSON null where there is no exit status or signal keeps each field's type. */
	snprintf(sig, sizeof(sig), f->signal > 0 ? "%d" : "null", f->signal);
	snprintf(status, sizeof(status), f->exit_status >= 0 ? "%d" : "null", f->exit_status);
	char *item = json_escape_bytes(it->data, it->len);
	char *msg = json_escape_bytes(f->message, strlen(f->message));
	char *err = json_escape_bytes(f->stderr_tail, strlen(f->stderr_tail));
	char *src = json_escape_bytes(source, strlen(source));
	char *line =
	    xasprintf("{\"time\":\"%s\",\"stage\":\"%s\",\"source\":\"%s\",\"seq\":%" PRIu64
		      ",\"attempts\":%" PRIu32 ",\"error\":\"%s\",\"exit_status\":%s,"
		      "\"signal\":%s,\"message\":\"%s\",\"stderr\":\"%s\",\"item\":\"%s\"}",
		      when, stage, src, it->seq, it->attempts, failure_kind_name(f->kind), status,
		      sig, msg, err, item);
	free(item);
	free(msg);
	free(err);
	free(src);
	return line;
}
