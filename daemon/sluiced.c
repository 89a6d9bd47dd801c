/*
 * sluiced.c: main. Parses the command line, loads the pipeline file, runs it on one
 * event loop under a supervisor (supervisor.h) and exits with the code SPEC §2 promises.
 * It never forks into the background: a service manager or a shell owns it.
 */
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "bio.h"
#include "child.h"
#include "conf.h"
#include "envcheck.h"
#include "fsck.h"
#include "item.h"
#include "kinds.h"
#include "log.h"
#include "sdnotify.h"
#include "statedir.h"
#include "supervisor.h"
#include "util.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.yaml"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: sluiced [-c FILE] [options]\n"
	    "  -c, --config FILE       pipeline file (default " DEFAULT_CONFIG "; - for stdin)\n"
	    "  -t, --check             validate FILE and the environment it needs, print the\n"
	    "                          resolved pipeline, exit 0, 66 or 78\n"
	    "      --no-environment    with --check: only the file (no commands, paths, ports)\n"
	    "  -l, --log-level LEVEL   error, warn, info (default), debug\n"
	    "      --log-format FMT    text (default) or json\n"
	    "      --progress          a progress line on stderr (default: when stderr is a\n"
	    "                          terminal and every source is finite)\n"
	    "      --no-progress       no progress line\n"
	    "      --resume            skip the items the joblog records as finished (ok or\n"
	    "                          failed)\n"
	    "      --resume-failed     skip the items the joblog records as ok; run the\n"
	    "                          failed ones again\n"
	    "      --fsck              check FILE's state_dir (checkpoints, journal): exit 0\n"
	    "                          clean, 1 damage found\n"
	    "      --repair            with --fsck: cut the damage (exit 0 once repaired)\n"
	    "      --schema            print a JSON Schema of the pipeline file (for editors)\n"
	    "  -V, --version           print the version\n"
	    "  -h, --help              this help\n"
	    "exit codes: 0 ok, 1 items failed, 2 cancelled, 64 usage, 66 no input,\n"
	    "            73 cannot create output, 75 stopped early, 78 bad config\n");
}

static void libevent_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_error("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* What a bug report needs: our version and the libraries this process really runs with. */
static void print_version(void)
{
	printf("sluiced " SLUICE_VERSION "\n");
	printf("libevent %s (built with %s)\n", event_get_version(), LIBEVENT_VERSION);
	printf("libyaml %s\n", yaml_get_version_string());
#if defined(__SANITIZE_ADDRESS__)
	printf("build: AddressSanitizer, UndefinedBehaviorSanitizer\n");
#endif
}

/*
 * mode: truncate empties a file sink once, when the daemon starts: not at a reload
 * (the file holds this run's output) and not with --resume (it holds the records the
 * joblog counts as done). The sink itself then opens with O_APPEND as always.
 */
static int truncate_file_sinks(const struct conf *c)
{
	for (size_t i = 0; i < c->n_sinks; i++) {
		const struct conf_sink *s = &c->sinks[i];
		if (!s->truncate) /* a file sink's mode: truncate */
			continue;
		int fd = open(s->path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno != ENOENT) {
			log_error("sink '%s': cannot truncate '%s' (mode: truncate): %s", s->name,
				  s->path, strerror(errno));
			return -1;
		}
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 't'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'F'},
	    {"progress", no_argument, NULL, 'P'},
	    {"no-progress", no_argument, NULL, 'N'},
	    {"resume", no_argument, NULL, 'R'},
	    {"resume-failed", no_argument, NULL, 'r'},
	    {"no-environment", no_argument, NULL, 'E'},
	    {"schema", no_argument, NULL, 'S'},
	    {"fsck", no_argument, NULL, 'K'},
	    {"repair", no_argument, NULL, 'X'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = DEFAULT_CONFIG;
	bool check = false, level_set = false, format_set = false, resume = false;
	bool check_env = true, resume_failed = false, fsck = false, repair = false;
	int progress = -1; /* -1: on when stderr is a terminal and the pipeline is a job */
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_TEXT;
	int c;

	kinds_register(); /* before the loader, --schema included */
	while ((c = getopt_long(argc, argv, "c:tl:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr,
					"sluiced: bad log level '%s' (error, warn, info, debug)\n",
					optarg);
				return 64;
			}
			level_set = true;
			break;
		case 'F':
			if (log_format_parse(optarg, &format) < 0) {
				fprintf(stderr, "sluiced: bad log format '%s' (text, json)\n",
					optarg);
				return 64;
			}
			format_set = true;
			break;
		case 'N':
			progress = 0;
			break;
		case 'R':
			resume = true;
			break;
		case 'r':
			resume = resume_failed = true;
			break;
		case 'E':
			check_env = false;
			break;
		case 'K':
			fsck = true;
			break;
		case 'X':
			repair = true;
			break;
		case 'P':
			progress = 1;
			break;
		case 'S':
			conf_print_schema(stdout);
			return fflush(stdout) == 0 ? 0 : 74;
		case 'V':
			print_version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (repair && !fsck) {
		fprintf(stderr, "sluiced: --repair goes with --fsck\n");
		usage(stderr);
		return 64;
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 64;
	}

	/* Retry jitter must differ between daemons restarted together. */
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	log_init(level, format);
	bool noinput = false;
	/* Errors go through log.c: with --log-format json, one JSON object each. */
	char *errs = NULL;
	size_t errs_len = 0;
	FILE *ef = open_memstream(&errs, &errs_len);
	struct conf *conf = conf_load(config, ef, &noinput);
	size_t problems = conf != NULL && check && check_env ? envcheck_run(conf, ef) : 0;
	if (problems > 0)
		fprintf(ef,
			"%zu problem(s) with the environment this pipeline needs "
			"(--no-environment checks the file alone)\n",
			problems);
	fclose(ef);
	log_conf_errors(errs);
	free(errs);
	if (conf == NULL)
		return noinput ? 66 : 78;
	if (fsck) {
		int rc = fsck_run(conf, repair, stdout);
		conf_free(conf);
		return fflush(stdout) == 0 ? rc : 74;
	}
	if (check) {
		if (problems > 0) {
			conf_free(conf);
			return 78;
		}
		if (conf->state_dir == NULL)
			fprintf(stderr, "sluiced: note: no state_dir: file positions and queued "
					"items do not survive a kill (only an orderly stop)\n");
		conf_print(conf, stdout);
		conf_free(conf);
		return 0;
	}
	conf->resume = resume;
	conf->resume_failed = resume_failed;
	if (!resume && truncate_file_sinks(conf) < 0) {
		conf_free(conf);
		return 73;
	}
	char err[512];
	if (conf->state_dir != NULL && state_dir_prepare(conf->state_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		conf_free(conf);
		return 73;
	}
	/* The command line wins over the file. */
	conf->log.level = level_set ? level : conf->log.level;
	conf->log.format = format_set ? format : conf->log.format;
	conf->log.level_cli = level_set;
	conf->log.format_cli = format_set;
	log_init(conf->log.level, conf->log.format);

	event_set_log_callback(libevent_log_cb);
	struct event_base *base = event_base_new();
	if (base == NULL)
		fatal(1, "cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);

	int exit_code = 0;
	sdnotify_init(base);
	child_init(base);
	bio_init(base);
	struct supervisor *sv = supervisor_new(base, conf, progress, &exit_code);
	if (sv != NULL)
		exit_code = supervisor_run(sv);
	supervisor_free(sv);
	child_shutdown();
	bio_shutdown();
	sdnotify_free();
	event_base_free(base);
	item_cache_free();
	return exit_code;
}
