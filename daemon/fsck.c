/* fsck.c: sluiced --fsck (see fsck.h). */
#include "fsck.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "journal.h"
#include "statedir.h"
#include "util.h"

#define CHECKPOINT_SUFFIX ".checkpoint"

struct tally {
	unsigned files, problems, unrepaired;
};

static bool is_checkpoint(const char *name)
{
	size_t n = strlen(name), k = strlen(CHECKPOINT_SUFFIX);
	return n > k && strcmp(name + n - k, CHECKPOINT_SUFFIX) == 0;
}

static void check_checkpoint(const char *path, bool repair, FILE *out, struct tally *t)
{
	struct checkpoint_report r;
	char err[512];
	int rc = checkpoint_check(path, repair, &r, err, sizeof(err));
	t->files++;
	if (rc < 0 && r.lines == 0 && r.torn_bytes == 0) {
		fprintf(out, "%s\n", err);
		t->problems++;
		t->unrepaired++;
		return;
	}
	const char *fix = repair ? (rc == 0 ? " (repaired: removed)" : " (NOT repaired)") : "";
	if (r.bad_lines > 0)
		fprintf(out,
			"%s:%" PRIu64 ": %" PRIu64 " line(s) fail their CRC, the first here%s\n",
			path, r.first_bad, r.bad_lines, fix);
	if (r.torn_bytes > 0)
		fprintf(out, "%s: torn last line of %" PRIu64 " byte(s) (a kill mid-append)%s\n",
			path, r.torn_bytes, fix);
	if (r.bad_lines > 0 || r.torn_bytes > 0) {
		t->problems++;
		t->unrepaired += !repair || rc < 0;
	}
	if (rc < 0 && repair)
		fprintf(out, "%s\n", err);
}

static void check_journal(const char *dir, bool repair, FILE *out, struct tally *t,
			  struct journal_recovery *rec)
{
	char err[512];
	if (journal_check(dir, repair, rec, err, sizeof(err)) < 0) {
		fprintf(out, "%s\n", err);
		t->problems++;
		t->unrepaired++;
		return;
	}
	const char *fix = repair ? " (repaired: cut)" : "";
	if (rec->torn_bytes > 0) {
		fprintf(out, "%s: torn tail of %" PRIu64 " byte(s) in the newest segment%s\n", dir,
			rec->torn_bytes, fix);
		t->problems++;
	}
	if (rec->damaged_segments > 0) {
		fprintf(out,
			"%s: %" PRIu64 " damaged segment(s), %" PRIu64
			" byte(s) after the damage%s\n",
			dir, rec->damaged_segments, rec->damaged_bytes, fix);
		t->problems++;
	}
	if (!repair)
		t->unrepaired += (rec->torn_bytes > 0) + (rec->damaged_segments > 0);
}

int fsck_run(const struct conf *c, bool repair, FILE *out)
{
	struct stat st;
	if (c->state_dir == NULL) {
		fprintf(out, "fsck: '%s' has no state_dir: nothing to check\n", c->file);
		return 0;
	}
	if (stat(c->state_dir, &st) < 0) {
		fprintf(out, "fsck: state_dir '%s': %s: nothing to check\n", c->state_dir,
			strerror(errno));
		return errno == ENOENT ? 0 : 1;
	}
	struct tally t = {0};
	DIR *d = opendir(c->state_dir);
	if (d == NULL) {
		fprintf(out, "fsck: cannot read state_dir '%s': %s\n", c->state_dir,
			strerror(errno));
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_checkpoint(e->d_name))
			continue;
		char *path = xasprintf("%s/%s", c->state_dir, e->d_name);
		check_checkpoint(path, repair, out, &t);
		free(path);
	}
	closedir(d);

	struct journal_recovery rec = {0};
	char *jdir = state_dir_journal(c->state_dir);
	if (stat(jdir, &st) == 0)
		check_journal(jdir, repair, out, &t, &rec);
	free(jdir);

	fprintf(out,
		"fsck: state_dir '%s': %u checkpoint file(s), %" PRIu64
		" journal segment(s) holding %" PRIu64 " unfinished item(s): ",
		c->state_dir, t.files, rec.segments, rec.items);
	if (t.problems == 0)
		fprintf(out, "clean\n");
	else if (t.unrepaired == 0)
		fprintf(out, "%u problem(s), repaired\n", t.problems);
	else
		fprintf(out, "%u problem(s)%s\n", t.problems,
			repair ? ", not all repaired" : "; --repair cuts the damage");
	return t.unrepaired > 0 ? 1 : 0;
}
