/* statedir.c: the state directory (see statedir.h). */
#include "statedir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "state_dir '%s': cannot create it: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "state_dir '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state_dir '%s': not a directory", dir);
		return -1;
	}
	/* Refused now rather than at the first checkpoint, which would lose it silently. */
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "state_dir '%s': cannot write in it: %s", dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

char *state_dir_checkpoint(const char *dir, const char *source)
{
	return xasprintf("%s/%s.checkpoint", dir, source);
}

char *state_dir_journal(const char *dir)
{
	return xasprintf("%s/journal", dir);
}
