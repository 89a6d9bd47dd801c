/*
 * test_conf.c: the config loader as a user meets it. Each test writes a small
 * YAML file into a private temporary directory (the working directory of the
 * run, so errors read "job.yaml:L:C: ...") and asserts on the exact error lines,
 * or on the structs and defaults; the printer is checked by loading its output
 * again and printing it a second time.
 *
 * LINK: all (the kinds' rows are the loader's: kinds.c and every kind file)
 */
#include <check.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf-schema.h"
#include "kinds.h"
#include "sink.h"
#include "source.h"
#include "stage.h"
#include "util.h"

/* A minimal valid source and sink, to append to files that test something else. */
#define SRC	 "sources:\n  - name: in\n    type: stdin\n"
#define SINK	 "sinks:\n  - name: out\n    type: stdout\n"
#define SINK_TWO "  - name: two\n    type: discard\n"

#define MIB (UINT64_C(1) << 20)
#define SEC UINT64_C(1000000)

/* A registry of the tests' own, instead of the daemon's (kinds_register), when set. */
static const struct conf_kinds *test_registry;

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Loads name (after writing text into it, when given); returns what went to errs. */
static char *load(const char *name, const char *text, struct conf **out, bool *noinput)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *errs;

	if (text != NULL)
		write_file(name, text);
	errs = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(errs);
	if (test_registry != NULL)
		conf_set_kinds(test_registry);
	else
		kinds_register();
	*out = conf_load(name, errs, noinput);
	fclose(errs);
	return buf;
}

static void expect_errors(const char *text, const char *expected)
{
	struct conf *c;
	bool noinput = true;
	char *errs = load("job.yaml", text, &c, &noinput);

	ck_assert_str_eq(errs, expected);
	ck_assert_ptr_null(c);
	ck_assert(!noinput);
	free(errs);
}

static struct conf *load_ok_as(const char *name, const char *text)
{
	struct conf *c;
	bool noinput = true;
	char *errs = load(name, text, &c, &noinput);

	ck_assert_str_eq(errs, "");
	ck_assert_ptr_nonnull(c);
	ck_assert(!noinput);
	free(errs);
	return c;
}

static struct conf *load_ok(const char *text)
{
	return load_ok_as("job.yaml", text);
}

/* Every value, as reload compares them (--check's print redacts credentials). */
static char *print_conf(const struct conf *c)
{
	return conf_printed(c);
}

/* Loads text, prints it, loads the print, prints again: both prints must agree. */
static char *round_trip(const char *text)
{
	struct conf *c = load_ok(text), *c2;
	char *p1 = print_conf(c), *p2;

	c2 = load_ok_as("printed.yaml", p1);
	p2 = print_conf(c2);
	ck_assert_str_eq(p1, p2);
	conf_free(c);
	conf_free(c2);
	free(p2);
	return p1;
}

/* --- defaults ---------------------------------------------------------------------- */

START_TEST(defaults_filled)
{
	struct conf *c;

	unsetenv("STATE_DIRECTORY");
	c = load_ok(SRC SINK);
	ck_assert_str_eq(c->file, "job.yaml");
	ck_assert_str_eq(c->name, "job");
	ck_assert_uint_eq(c->queue.capacity, 1024);
	ck_assert_uint_eq(c->queue.max_bytes, 64 * MIB);
	ck_assert_int_eq(c->queue.when_full, WHEN_FULL_BLOCK);
	ck_assert_uint_eq(c->memory_limit, 512 * MIB);
	ck_assert_uint_eq(c->max_item_bytes, MIB);
	ck_assert_uint_eq(c->shutdown.grace, 30 * SEC);
	ck_assert_uint_eq(c->shutdown.kill_after, 5 * SEC);
	ck_assert_ptr_null(c->shutdown.spool);
	ck_assert_uint_eq(c->deadline, 0);
	ck_assert_uint_eq(c->n_sources, 1);
	ck_assert_str_eq(c->sources[0].name, "in");
	ck_assert_str_eq(conf_kind_name(c->sources[0].kind), "stdin");
	ck_assert_int_eq(c->sources[0].framing, FRAMING_LINES);
	ck_assert_int_eq(c->sources[0].pos.line, 2);
	ck_assert_int_eq(c->sources[0].pos.col, 5);
	ck_assert_uint_eq(c->n_stages, 0);
	ck_assert_ptr_null(c->stages);
	ck_assert_uint_eq(c->n_sinks, 1);
	ck_assert_str_eq(c->sinks[0].name, "out");
	ck_assert_str_eq(conf_kind_name(c->sinks[0].kind), "stdout");
	ck_assert(!c->dead_letter.enabled);
	ck_assert_int_eq(c->log.level, LOG_INFO);
	ck_assert_int_eq(c->log.format, LOG_TEXT);
	ck_assert(!c->log.level_set);
	ck_assert(!c->log.format_set);
	conf_free(c);
}
END_TEST

START_TEST(stage_defaults_and_queue_inheritance)
{
	struct conf *c = load_ok("queue:\n"
				 "  capacity: 10\n"
				 "  when_full: drop_oldest\n"
				 "stages:\n"
				 "  - name: a\n"
				 "    builtin: {op: passthrough}\n"
				 "  - name: b\n"
				 "    queue: {capacity: 5, max_bytes: 1KiB}\n"
				 "    exec: {argv: [cat]}\n"
				 "  - name: c\n"
				 "    queue: {when_full: drop_newest}\n"
				 "    builtin: {op: passthrough}\n" SRC SINK);
	struct conf_stage *a = &c->stages[0], *b = &c->stages[1], *s3 = &c->stages[2];

	ck_assert_uint_eq(c->n_stages, 3);
	ck_assert_uint_eq(c->queue.capacity, 10);
	ck_assert_uint_eq(c->queue.max_bytes, 64 * MIB);
	ck_assert_int_eq(c->queue.when_full, WHEN_FULL_DROP_OLDEST);

	ck_assert_int_eq(a->pos.line, 5);
	ck_assert_int_eq(a->pos.col, 5);
	ck_assert_uint_eq(a->workers, 1);
	ck_assert_str_eq(conf_kind_name(a->kind), "builtin");
	ck_assert_int_eq(a->op, BUILTIN_PASSTHROUGH);
	ck_assert_uint_eq(a->queue.capacity, 10);
	ck_assert_uint_eq(a->queue.max_bytes, 64 * MIB);
	ck_assert_int_eq(a->queue.when_full, WHEN_FULL_DROP_OLDEST);
	ck_assert_uint_eq(a->timeout, 0);
	ck_assert_int_eq(a->on_failure, ON_FAILURE_SKIP);

	ck_assert_str_eq(conf_kind_name(b->kind), "exec");
	ck_assert_uint_eq(b->argc, 1);
	ck_assert_str_eq(b->argv[0], "cat");
	ck_assert_ptr_null(b->argv[1]);
	ck_assert_int_eq(b->stdin_mode, EXEC_STDIN_NONE);
	ck_assert_int_eq(b->stdout_mode, EXEC_STDOUT_RESULT);
	ck_assert_uint_eq(b->n_env, 0);
	ck_assert_ptr_null(b->cwd);
	ck_assert_uint_eq(b->queue.capacity, 5);
	ck_assert_uint_eq(b->queue.max_bytes, 1024);
	ck_assert_int_eq(b->queue.when_full, WHEN_FULL_DROP_OLDEST);

	ck_assert_uint_eq(s3->queue.capacity, 10);
	ck_assert_int_eq(s3->queue.when_full, WHEN_FULL_DROP_NEWEST);
	conf_free(c);
}
END_TEST

START_TEST(source_defaults)
{
	struct conf *c = load_ok("sources:\n"
				 "  - {name: f, type: file, path: /in}\n"
				 "  - {name: g, type: generate}\n"
				 "  - {name: e, type: exec, argv: [ls, -l]}\n" SINK);

	ck_assert_str_eq(c->sources[0].path, "/in");
	ck_assert(!c->sources[0].follow);
	ck_assert_int_eq(c->sources[0].framing, FRAMING_LINES);
	ck_assert_str_eq(conf_kind_name(c->sources[1].kind), "generate");
	ck_assert_int_eq(c->sources[1].count, -1);
	ck_assert_uint_eq(c->sources[1].interval, 0);
	ck_assert_str_eq(c->sources[1].template, "{seq}");
	ck_assert_str_eq(conf_kind_name(c->sources[2].kind), "exec");
	ck_assert_uint_eq(c->sources[2].argc, 2);
	ck_assert_str_eq(c->sources[2].argv[1], "-l");
	ck_assert_ptr_null(c->sources[2].argv[2]);
	conf_free(c);
}
END_TEST

START_TEST(full_example)
{
	struct conf *c = load_ok("name: thumbnails\n"
				 "queue:\n"
				 "  capacity: 2048\n"
				 "  max_bytes: 32MiB\n"
				 "  when_full: drop_newest\n"
				 "memory_limit: 1GiB\n"
				 "max_item_bytes: 64KiB\n"
				 "shutdown:\n"
				 "  grace: 1m30s\n"
				 "  kill_after: 250ms\n"
				 "  spool: /var/lib/sluice/t.spool\n"
				 "deadline: 1h\n"
				 "sources:\n"
				 "  - name: jobs\n"
				 "    type: file\n"
				 "    path: /var/spool/jobs.txt\n"
				 "    follow: yes\n"
				 "    framing: nul\n"
				 "  - name: ticks\n"
				 "    type: generate\n"
				 "    count: 1000\n"
				 "    interval: 10ms\n"
				 "    template: \"item-{seq}\"\n"
				 "stages:\n"
				 "  - name: resize\n"
				 "    workers: 4\n"
				 "    exec:\n"
				 "      argv: [convert, \"{}\", -resize, 64x64, \"/out/{}.png\"]\n"
				 "      stdin: item\n"
				 "      stdout: lines\n"
				 "      env: { OMP_NUM_THREADS: \"1\", LANG: C }\n"
				 "      cwd: /tmp\n"
				 "    timeout: 30s\n"
				 "    on_failure: dead_letter\n"
				 "  - name: keep-errors\n"
				 "    builtin: { op: grep, pattern: \"ERROR\", invert: true }\n"
				 "    on_failure: cancel\n"
				 "sinks:\n"
				 "  - name: results\n"
				 "    type: file\n"
				 "    path: /var/lib/sluice/results.txt\n"
				 "    fsync: batch\n"
				 "  - name: nowhere\n"
				 "    type: discard\n"
				 "dead_letter:\n"
				 "  type: file\n"
				 "  path: /var/lib/sluice/failed.jsonl\n"
				 "log:\n"
				 "  level: debug\n"
				 "  format: json\n");
	struct conf_stage *st = &c->stages[0];

	ck_assert_str_eq(c->name, "thumbnails");
	ck_assert_uint_eq(c->queue.capacity, 2048);
	ck_assert_uint_eq(c->queue.max_bytes, 32 * MIB);
	ck_assert_int_eq(c->queue.when_full, WHEN_FULL_DROP_NEWEST);
	ck_assert_uint_eq(c->memory_limit, 1024 * MIB);
	ck_assert_uint_eq(c->max_item_bytes, 64 * 1024);
	ck_assert_uint_eq(c->shutdown.grace, 90 * SEC);
	ck_assert_uint_eq(c->shutdown.kill_after, 250000);
	ck_assert_str_eq(c->shutdown.spool, "/var/lib/sluice/t.spool");
	ck_assert_uint_eq(c->deadline, 3600 * SEC);
	ck_assert(c->sources[0].follow);
	ck_assert_int_eq(c->sources[0].framing, FRAMING_NUL);
	ck_assert_int_eq(c->sources[1].count, 1000);
	ck_assert_uint_eq(c->sources[1].interval, 10000);
	ck_assert_str_eq(c->sources[1].template, "item-{seq}");
	ck_assert_uint_eq(st->workers, 4);
	ck_assert_uint_eq(st->queue.capacity, 2048);
	ck_assert_uint_eq(st->argc, 5);
	ck_assert_str_eq(st->argv[4], "/out/{}.png");
	ck_assert_int_eq(st->stdin_mode, EXEC_STDIN_ITEM);
	ck_assert_int_eq(st->stdout_mode, EXEC_STDOUT_LINES);
	ck_assert_uint_eq(st->n_env, 2);
	ck_assert_str_eq(st->env[0].name, "OMP_NUM_THREADS");
	ck_assert_str_eq(st->env[0].value, "1");
	ck_assert_str_eq(st->env[1].name, "LANG");
	ck_assert_str_eq(st->env[1].value, "C");
	ck_assert_str_eq(st->cwd, "/tmp");
	ck_assert_uint_eq(st->timeout, 30 * SEC);
	ck_assert_int_eq(st->on_failure, ON_FAILURE_DEAD_LETTER);
	ck_assert_str_eq(conf_kind_name(c->stages[1].kind), "builtin");
	ck_assert_int_eq(c->stages[1].op, BUILTIN_GREP);
	ck_assert_str_eq(c->stages[1].pattern, "ERROR");
	ck_assert(c->stages[1].invert);
	ck_assert_int_eq(c->stages[1].on_failure, ON_FAILURE_CANCEL);
	ck_assert_str_eq(conf_kind_name(c->sinks[0].kind), "file");
	ck_assert_int_eq(c->sinks[0].fsync, FSYNC_BATCH);
	ck_assert_str_eq(conf_kind_name(c->sinks[1].kind), "discard");
	ck_assert(c->dead_letter.enabled);
	ck_assert_int_eq(c->dead_letter.type, DEAD_LETTER_FILE);
	ck_assert_str_eq(c->dead_letter.path, "/var/lib/sluice/failed.jsonl");
	ck_assert_int_eq(c->dead_letter.pos.line, 46);
	ck_assert_int_eq(c->log.level, LOG_DEBUG);
	ck_assert_int_eq(c->log.format, LOG_JSON);
	ck_assert(c->log.level_set);
	ck_assert(c->log.format_set);
	conf_free(c);
}
END_TEST

START_TEST(name_from_file_name)
{
	struct conf *c;

	mkdir("sub", 0700);
	c = load_ok_as("sub/pipe.yml", SRC SINK);
	ck_assert_str_eq(c->name, "pipe");
	conf_free(c);
	c = load_ok_as("sub/noext", SRC SINK);
	ck_assert_str_eq(c->name, "noext");
	conf_free(c);
	c = load_ok_as("sub/a.b.yaml", SRC SINK);
	ck_assert_str_eq(c->name, "a.b");
	conf_free(c);
	c = load_ok_as("sub/x.yaml.yml", SRC SINK);
	ck_assert_str_eq(c->name, "x.yaml");
	conf_free(c);
}
END_TEST

START_TEST(name_from_bad_file_name)
{
	struct conf *c;
	char *errs = load("my job.yaml", SRC SINK, &c, NULL);

	ck_assert_ptr_null(c);
	ck_assert_str_eq(errs, "my job.yaml:1:1: the pipeline name 'my job', taken from the file "
			       "name, may only contain letters, digits, '_', '.' and '-'; set "
			       "'name'\n");
	free(errs);
	c = load_ok_as("my job.yaml", "name: myjob\n" SRC SINK);
	ck_assert_str_eq(c->name, "myjob");
	conf_free(c);
}
END_TEST

START_TEST(spool_from_state_directory)
{
	struct conf *c;

	setenv("STATE_DIRECTORY", "/var/lib/sluice", 1);
	c = load_ok("name: thumbs\n" SRC SINK);
	ck_assert_str_eq(c->shutdown.spool, "/var/lib/sluice/thumbs.spool");
	conf_free(c);

	setenv("STATE_DIRECTORY", "/var/lib/a/:/var/lib/b", 1);
	c = load_ok(SRC SINK);
	ck_assert_str_eq(c->shutdown.spool, "/var/lib/a/job.spool");
	conf_free(c);

	c = load_ok("shutdown: {spool: /elsewhere/x.spool}\n" SRC SINK);
	ck_assert_str_eq(c->shutdown.spool, "/elsewhere/x.spool");
	conf_free(c);

	setenv("STATE_DIRECTORY", "", 1);
	c = load_ok(SRC SINK);
	ck_assert_ptr_null(c->shutdown.spool);
	conf_free(c);

	unsetenv("STATE_DIRECTORY");
	c = load_ok(SRC SINK);
	ck_assert_ptr_null(c->shutdown.spool);
	conf_free(c);
}
END_TEST

START_TEST(empty_stage_lists)
{
	struct conf *c = load_ok("stages: []\n" SRC SINK);
	ck_assert_uint_eq(c->n_stages, 0);
	conf_free(c);
	c = load_ok("stages:\n" SRC SINK);
	ck_assert_uint_eq(c->n_stages, 0);
	conf_free(c);
}
END_TEST

START_TEST(scalars)
{
	struct conf *c = load_ok("sources:\n"
				 "  - {name: a, type: file, path: /a, follow: true}\n"
				 "  - {name: b, type: file, path: /b, follow: False}\n"
				 "  - {name: c, type: file, path: /c, follow: YES}\n"
				 "  - {name: d, type: file, path: /d, follow: no}\n"
				 "  - {name: e, type: generate, count: 0}\n"
				 "  - {name: f, type: generate, count: \"42\"}\n"
				 "  - {name: g, type: generate, count: 9223372036854775807}\n"
				 "  - {name: h, type: generate, template: \"\"}\n"
				 "  - {name: '123', type: stdin}\n" SINK);

	ck_assert(c->sources[0].follow);
	ck_assert(!c->sources[1].follow);
	ck_assert(c->sources[2].follow);
	ck_assert(!c->sources[3].follow);
	ck_assert_int_eq(c->sources[4].count, 0);
	ck_assert_int_eq(c->sources[5].count, 42);
	ck_assert_int_eq(c->sources[6].count, INT64_MAX);
	ck_assert_str_eq(c->sources[7].template, "");
	ck_assert_str_eq(c->sources[8].name, "123");
	conf_free(c);
}
END_TEST

START_TEST(aliases)
{
	struct conf *c = load_ok("queue: &q {capacity: 7}\n"
				 "stages:\n"
				 "  - {name: a, queue: *q, builtin: {op: passthrough}}\n" SRC SINK);
	ck_assert_uint_eq(c->stages[0].queue.capacity, 7);
	conf_free(c);
}
END_TEST

START_TEST(log_levels)
{
	struct conf *c = load_ok("log: {level: WARNING}\n" SRC SINK);
	ck_assert_int_eq(c->log.level, LOG_WARN);
	ck_assert(c->log.level_set);
	ck_assert(!c->log.format_set);
	conf_free(c);
	c = load_ok("log: {level: error}\n" SRC SINK);
	ck_assert_int_eq(c->log.level, LOG_ERROR);
	conf_free(c);
}
END_TEST

START_TEST(dead_letter_stdout)
{
	struct conf *c = load_ok(
	    "dead_letter: {type: stdout}\n"
	    "stages:\n"
	    "  - {name: a, builtin: {op: passthrough}, on_failure: dead_letter}\n" SRC SINK);
	ck_assert(c->dead_letter.enabled);
	ck_assert_int_eq(c->dead_letter.type, DEAD_LETTER_STDOUT);
	ck_assert_ptr_null(c->dead_letter.path);
	ck_assert_int_eq(c->stages[0].on_failure, ON_FAILURE_DEAD_LETTER);
	conf_free(c);
}
END_TEST

/* --- not YAML, no file ------------------------------------------------------------- */

START_TEST(missing_file_is_noinput)
{
	struct conf *c;
	bool noinput = false;
	char *errs = load("nofile.yaml", NULL, &c, &noinput);

	ck_assert_ptr_null(c);
	ck_assert(noinput);
	ck_assert_str_eq(errs, "nofile.yaml: No such file or directory\n");
	free(errs);

	/* noinput is optional */
	errs = load("nofile.yaml", NULL, &c, NULL);
	ck_assert_ptr_null(c);
	free(errs);
}
END_TEST

START_TEST(directory_is_noinput)
{
	struct conf *c;
	bool noinput = false;
	char *errs;

	mkdir("dir.yaml", 0700);
	errs = load("dir.yaml", NULL, &c, &noinput);
	ck_assert_ptr_null(c);
	ck_assert(noinput);
	ck_assert_str_eq(errs, "dir.yaml: Is a directory\n");
	free(errs);
}
END_TEST

START_TEST(not_yaml)
{
	expect_errors("sources: [1, 2\n",
		      "job.yaml:2:1: did not find expected ',' or ']' (while parsing a flow "
		      "sequence)\n");
	expect_errors("a: b: c\n",
		      "job.yaml:1:5: mapping values are not allowed in this context\n");
	expect_errors("a:\n\t- b\n", "job.yaml:2:1: found character that cannot start any token "
				     "(while scanning for the next token)\n");
	expect_errors("x: \"abc\n", "job.yaml:2:1: found unexpected end of stream (while scanning "
				    "a quoted scalar)\n");
	expect_errors("a: *nope\n", "job.yaml:1:4: found undefined alias\n");
}
END_TEST

/* An error at the end of a file without its last newline is at the end of the
 * file, not on a line after it (libyaml ends such a stream with a newline of its
 * own). Found by tests/fuzz/fuzz_conf. */
START_TEST(error_at_end_without_newline)
{
	expect_errors("sources: [1, 2",
		      "job.yaml:1:15: did not find expected ',' or ']' (while parsing a flow "
		      "sequence)\n");
	expect_errors("x: \"abc", "job.yaml:1:8: found unexpected end of stream (while scanning "
				  "a quoted scalar)\n");
	expect_errors("a: b\nx: \"\xc3\xa9", "job.yaml:2:6: found unexpected end of stream "
					     "(while scanning a quoted scalar)\n");
	/* Line breaks as libyaml counts them: CR, CRLF; the end after one is a new line. */
	expect_errors("a: b\rc: [1\r", "job.yaml:3:1: did not find expected ',' or ']' (while "
				       "parsing a flow sequence)\n");
	expect_errors("a: b\r\nc: [1", "job.yaml:2:6: did not find expected ',' or ']' (while "
				       "parsing a flow sequence)\n");
}
END_TEST

START_TEST(not_utf8)
{
	expect_errors("name: a\nb: \xff\n",
		      "job.yaml:2:4: invalid leading UTF-8 octet (byte 0xFF)\n");
}
END_TEST

START_TEST(empty_and_non_mapping)
{
	const char *empty =
	    "job.yaml:1:1: the file is empty; expected a mapping with 'sources' and 'sinks'\n";
	expect_errors("", empty);
	expect_errors("# only a comment\n\n", empty);
	expect_errors("- a\n- b\n",
		      "job.yaml:1:1: expected a mapping at the top level, got a list\n");
	expect_errors("hello\n",
		      "job.yaml:1:1: expected a mapping at the top level, got 'hello'\n");
	expect_errors("---\n", "job.yaml:2:1: expected a mapping at the top level, got nothing\n");
}
END_TEST

START_TEST(second_document)
{
	expect_errors(SRC SINK "---\n" SRC SINK,
		      "job.yaml:7:1: expected one YAML document, found a second one here\n");
	expect_errors(SRC SINK "---\n[\n", "job.yaml:9:1: did not find expected node content "
					   "(while parsing a flow node)\n");
}
END_TEST

/* --- keys -------------------------------------------------------------------------- */

START_TEST(unknown_key_did_you_mean)
{
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    wrokers: 4\n"
		      "    builtin: {op: passthrough}\n" SRC SINK,
		      "job.yaml:3:5: unknown key 'wrokers' in stage 'resize'; did you mean "
		      "'workers'?\n");
	expect_errors("soruces: []\n" SINK,
		      "job.yaml:1:1: unknown key 'soruces' at the top level; did you mean "
		      "'sources'?\n"
		      "job.yaml:1:1: missing 'sources': a pipeline needs at least one source\n");
	expect_errors("queue: {capacty: 3}\n" SRC SINK,
		      "job.yaml:1:9: unknown key 'capacty' in 'queue'; did you mean 'capacity'?\n");
	expect_errors("shutdown: {kill-after: 3s}\n" SRC SINK,
		      "job.yaml:1:12: unknown key 'kill-after' in 'shutdown'; did you mean "
		      "'kill_after'?\n");
	/* long keys allow more edits: a third of the length */
	expect_errors("max_itm_byts: 3\n" SRC SINK,
		      "job.yaml:1:1: unknown key 'max_itm_byts' at the top level; did you mean "
		      "'max_item_bytes'?\n");
	/* a retry key of a later version is still a good suggestion */
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    retyr: 3\n"
		      "    builtin: {op: passthrough}\n" SRC SINK,
		      "job.yaml:3:5: unknown key 'retyr' in stage 'a'; did you mean 'retry'?\n");
}
END_TEST

START_TEST(unknown_key_no_suggestion)
{
	expect_errors("colour: red\n" SRC SINK, "job.yaml:1:1: unknown key 'colour' at the top "
						"level\n");
	expect_errors("x: 1\n" SRC SINK, "job.yaml:1:1: unknown key 'x' at the top level\n");
	expect_errors("stages:\n"
		      "  - builtin: {op: passthrough, x: 1}\n"
		      "    name: a\n" SRC SINK,
		      "job.yaml:2:32: unknown key 'x' in 'builtin' of stage 'a'\n");
	expect_errors("stages:\n"
		      "  - builtin: {op: passthrough}\n"
		      "    bogus: 1\n" SRC SINK,
		      "job.yaml:2:5: stage #1 needs 'name'\n"
		      "job.yaml:3:5: unknown key 'bogus' in stage #1\n");
}
END_TEST

START_TEST(unknown_key_is_escaped)
{
	expect_errors("\"a\\tb\\nc\": 1\n" SRC SINK,
		      "job.yaml:1:1: unknown key 'a\\tb\\nc' at the top level\n");
}
END_TEST

START_TEST(duplicate_keys)
{
	expect_errors("sinks:\n"
		      "  - name: o\n"
		      "    type: file\n"
		      "    path: /a\n"
		      "    path: /b\n" SRC,
		      "job.yaml:5:5: duplicate key 'path' in sink 'o' (first at 4:5)\n");
	expect_errors("name: a\nname: b\n" SRC SINK,
		      "job.yaml:2:1: duplicate key 'name' at the top level (first at 1:1)\n");
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    exec:\n"
		      "      argv: [x]\n"
		      "      env: {A: 1, B: 2, A: 3}\n" SRC SINK,
		      "job.yaml:5:25: duplicate key 'A' in 'env' of stage 'a' (first at 5:13)\n");
}
END_TEST

START_TEST(complex_key)
{
	expect_errors("? [a, b]\n: 1\n" SRC SINK,
		      "job.yaml:1:3: expected a key name at the top level, got a list\n");
}
END_TEST

START_TEST(http_stage)
{
	struct conf *c =
	    load_ok("stages:\n"
		    "  - name: fetch\n"
		    "    workers: 32\n"
		    "    http: {url: \"{}\"}\n"
		    "  - name: post\n"
		    "    http:\n"
		    "      method: POST\n"
		    "      url: \"http://api:8080/v1/{}?src={source}\"\n"
		    "      headers: {Content-Type: application/json, X-Seq: \"{seq}\"}\n"
		    "      body: '{\"item\": \"{}\"}'\n"
		    "      timeout: 2s\n" SRC SINK);
	const struct conf_stage *f = &c->stages[0], *p = &c->stages[1];

	ck_assert_str_eq(conf_kind_name(f->kind), "http");
	ck_assert_int_eq(f->http.method, HTTP_GET);
	ck_assert_str_eq(f->http.url, "{}");
	ck_assert_ptr_null(f->http.body);
	ck_assert_uint_eq(f->http.timeout, 30 * SEC);
	ck_assert_uint_eq(f->http.n_headers, 0);
	ck_assert_int_eq(p->http.method, HTTP_POST);
	ck_assert_str_eq(p->http.url, "http://api:8080/v1/{}?src={source}");
	ck_assert_str_eq(p->http.body, "{\"item\": \"{}\"}");
	ck_assert_uint_eq(p->http.timeout, 2 * SEC);
	ck_assert_uint_eq(p->http.n_headers, 2);
	ck_assert_str_eq(p->http.headers[1].name, "X-Seq");
	ck_assert_str_eq(p->http.headers[1].value, "{seq}");
	conf_free(c);

	char *out = round_trip("stages:\n"
			       "  - name: a\n"
			       "    http: {method: DELETE, url: \"http://h/{}\", body: x,\n"
			       "           headers: {A: b}, timeout: 1500ms}\n" SRC SINK);
	ck_assert_ptr_nonnull(strstr(out, "    http:\n      method: DELETE\n"
					  "      url: \"http://h/{}\"\n      headers:\n"
					  "        \"A\": \"b\"\n      body: \"x\"\n"
					  "      timeout: 1500ms\n"));
	free(out);
}
END_TEST

START_TEST(http_stage_errors)
{
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    builtin: {op: passthrough}\n"
		      "    http: {x: 1}\n" SRC SINK,
		      "job.yaml:4:5: stage 'a' has more than one of 'exec', 'builtin', 'coprocess' "
		      "and 'http'; a stage has exactly one\n");
	expect_errors("stages:\n  - name: fetch\n    http: {method: GET}\n" SRC SINK,
		      "job.yaml:3:11: 'http' of stage 'fetch' needs 'url'\n");
	expect_errors("stages:\n  - name: f\n    http: {url: \"ftp://x/{}\", method: FETCH, "
		      "timeout: 0s, body: 3}\n" SRC SINK,
		      "job.yaml:3:17: 'url' must be http[s]://HOST[:PORT]/PATH, got 'ftp://x/{}': "
		      "expected an http:// or https:// URL\n"
		      "job.yaml:3:39: 'method' must be one of GET, POST, PUT, DELETE, PATCH, HEAD; "
		      "got 'FETCH'; did you mean 'PATCH'?\n"
		      "job.yaml:3:55: 'timeout' of stage 'f' must be greater than 0\n");
	/* what a placeholder stands for is checked at run time; the rest now */
	expect_errors("stages:\n  - name: f\n    http: {url: \"http://{}/x\"}\n"
		      "  - name: g\n    http: {url: \"http://h:99999/{}\"}\n" SRC SINK,
		      "job.yaml:5:17: 'url' must be http[s]://HOST[:PORT]/PATH, got "
		      "'http://h:99999/{}': the port must be a number from 1 to 65535\n");
	expect_errors("stages:\n  - name: f\n    http: {url: \"https://h:0/{}\"}\n" SRC SINK,
		      "job.yaml:3:17: 'url' must be http[s]://HOST[:PORT]/PATH, got "
		      "'https://h:0/{}': the port must be a number from 1 to 65535\n");
}
END_TEST

/* The tls block: where it applies, what it needs, its files read at load. */
START_TEST(tls_block)
{
	expect_errors(
	    "sources:\n  - {name: u, type: unix, path: /tmp/s, tls: {cert: c, key: k}}\n" SINK,
	    "job.yaml:2:41: 'tls' does not apply to a unix source (only to tcp, http)\n");
	expect_errors(SRC "sinks:\n  - {name: u, type: unix, path: /tmp/s, tls: {}}\n",
		      "job.yaml:5:41: 'tls' does not apply to a unix sink (only to tcp, http)\n");
	expect_errors(
	    "sources:\n  - {name: t, type: tcp, listen: \"127.0.0.1:1\", tls: {}}\n" SINK,
	    "job.yaml:2:49: 'tls' of source 't' needs 'cert' and 'key' (it serves TLS)\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"127.0.0.1:1\",\n"
		      "     tls: {cert: /nonexistent/c.pem}}\n" SINK,
		      "job.yaml:3:12: 'tls' of source 't' has 'cert' but no 'key'\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"127.0.0.1:1\",\n"
		      "     tls: {cert: /nonexistent/c.pem, key: /nonexistent/k.pem}}\n" SINK,
		      "job.yaml:3:18: TLS cert '/nonexistent/c.pem' of source 't': No such file or "
		      "directory\n"
		      "job.yaml:3:43: TLS key '/nonexistent/k.pem' of source 't': No such file or "
		      "directory\n");
	write_file("junk.pem", "not a certificate\n");
	expect_errors(SRC "sinks:\n  - {name: h, type: http, url: \"https://h/\",\n"
			  "     tls: {ca: junk.pem}}\n",
		      "job.yaml:6:11: TLS CA bundle 'junk.pem': no certificate or crl found (in "
		      "'tls' of sink 'h')\n");
	expect_errors(SRC "sinks:\n  - {name: h, type: http, url: \"http://h/\",\n"
			  "     tls: {verify: false, min_version: 1.1}}\n",
		      "job.yaml:6:6: 'tls' of sink 'h' needs an https:// URL, got 'http://h/'\n"
		      "job.yaml:6:40: 'min_version' must be one of 1.2, 1.3; got '1.1'; did you "
		      "mean '1.2'?\n");
	expect_errors("metrics: {listen: \"127.0.0.1:9\", tls: {verify: true}}\n" SRC SINK,
		      "job.yaml:1:34: 'tls' of metrics needs 'cert' and 'key' (it serves TLS)\n");

	/* An https:// URL alone: TLS on, verified, at the lowest version 1.2. */
	struct conf *c = load_ok(SRC "sinks:\n  - {name: h, type: http, url: \"https://h/\"}\n"
				     "  - {name: p, type: http, url: \"http://h/\"}\n");
	ck_assert(c->sinks[0].tls.enabled);
	ck_assert(c->sinks[0].tls.verify);
	ck_assert_int_eq(c->sinks[0].tls.min_version, TLS_V1_2);
	ck_assert(!c->sinks[1].tls.enabled);
	char *printed = print_conf(c);
	ck_assert_ptr_nonnull(
	    strstr(printed, "    tls:\n      verify: true\n      min_version: 1.2\n"));
	/* The plain sink prints no tls block. */
	ck_assert_ptr_null(strstr(strstr(printed, "tls:") + 4, "tls:"));
	free(printed);
	conf_free(c);
	c = load_ok(
	    "stages:\n  - name: f\n    http: {url: \"https://h/{}\"}\n"
	    "    tls: {verify: false, min_version: \"1.3\", server_name: x.example}\n" SRC SINK);
	ck_assert(c->stages[0].tls.enabled);
	ck_assert(!c->stages[0].tls.verify);
	ck_assert_int_eq(c->stages[0].tls.min_version, TLS_V1_3);
	ck_assert_str_eq(c->stages[0].tls.server_name, "x.example");
	conf_free(c);
}
END_TEST

START_TEST(structured_concurrency_keys)
{
	struct conf *c = load_ok("stages:\n"
				 "  - name: a\n"
				 "    workers: 3\n"
				 "    coprocess: {argv: [python3, -u, w.py], framing: length}\n"
				 "    retry: {attempts: 3, backoff: 50ms, max_backoff: 2s}\n"
				 "    max_failures: 5%\n"
				 "    ordered: true\n"
				 "    rate: 50/s\n"
				 "    shield: true\n"
				 "  - name: b\n"
				 "    exec: {argv: [cat]}\n"
				 "    max_failures: 7\n"
				 "joblog: /tmp/x.joblog\n"
				 "metrics: {listen: \"127.0.0.1:9464\"}\n"
				 "control: {socket: /tmp/c.sock}\n" SRC SINK);
	ck_assert_str_eq(conf_kind_name(c->stages[0].kind), "coprocess");
	ck_assert_int_eq(c->stages[0].coproc_framing, COPROC_LENGTH);
	ck_assert_str_eq(c->stages[0].argv[2], "w.py");
	ck_assert_uint_eq(c->stages[0].retry.attempts, 3);
	ck_assert_uint_eq(c->stages[0].retry.backoff, 50000);
	ck_assert_uint_eq(c->stages[0].retry.max_backoff, 2000000);
	ck_assert_uint_eq(c->stages[0].max_failures, 5);
	ck_assert(c->stages[0].max_failures_pct);
	ck_assert(c->stages[0].ordered);
	ck_assert(c->stages[0].shield);
	ck_assert(c->stages[0].rate > 49.99 && c->stages[0].rate < 50.01);
	ck_assert_uint_eq(c->stages[1].retry.attempts, 1); /* default: no retry */
	ck_assert_uint_eq(c->stages[1].max_failures, 7);
	ck_assert(!c->stages[1].max_failures_pct);
	ck_assert_str_eq(c->joblog, "/tmp/x.joblog");
	ck_assert_str_eq(c->metrics.listen, "127.0.0.1:9464");
	ck_assert_str_eq(c->control.socket, "/tmp/c.sock");
	conf_free(c);
}
END_TEST

START_TEST(structured_concurrency_errors)
{
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    exec: {argv: [true]}\n"
		      "    retry: {atempts: 3}\n" SRC SINK,
		      "job.yaml:4:13: unknown key 'atempts' in 'retry' of stage 'a'; did you mean "
		      "'attempts'?\n");
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    exec: {argv: [true]}\n"
		      "    max_failures: 101%\n" SRC SINK,
		      "job.yaml:4:19: 'max_failures' must be between 1% and 100%, got '101%'\n");
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    exec: {argv: [true]}\n"
		      "    max_failures: lots\n" SRC SINK,
		      "job.yaml:4:19: expected a count like 10 or a percent like 5% for "
		      "'max_failures', got 'lots'\n");
	expect_errors(
	    "stages:\n"
	    "  - name: a\n"
	    "    exec: {argv: [true]}\n"
	    "    retry: {backoff: 5s, max_backoff: 1s}\n" SRC SINK,
	    "job.yaml:4:12: 'max_backoff' in stage 'a' must not be less than 'backoff'\n");
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    coprocess: {framing: lines}\n" SRC SINK,
		      "job.yaml:3:16: 'coprocess' of stage 'a' needs 'argv'\n");
	expect_errors("metrics: {}\n" SRC SINK, "job.yaml:1:10: 'metrics' needs 'listen'\n");
}
END_TEST

START_TEST(keys_of_other_kinds)
{
	expect_errors("sources:\n"
		      "  - name: jobs\n"
		      "    type: file\n"
		      "    path: /x\n"
		      "    count: 5\n"
		      "    argv: [x]\n" SINK,
		      "job.yaml:5:5: 'count' does not apply to a file source (only to generate)\n"
		      "job.yaml:6:5: 'argv' does not apply to a file source (only to exec)\n");
	expect_errors("sources:\n"
		      "  - {name: g, type: generate, framing: nul, follow: true}\n" SINK,
		      "job.yaml:2:31: 'framing' does not apply to a generate source (only to "
		      "file, stdin, exec, tcp, unix)\n"
		      "job.yaml:2:45: 'follow' does not apply to a generate source (only to "
		      "file)\n");
	expect_errors("stages:\n"
		      "  - name: p\n"
		      "    builtin: {op: passthrough, pattern: x, invert: true}\n" SRC SINK,
		      "job.yaml:3:32: 'pattern' does not apply to builtin op 'passthrough' (only "
		      "to grep)\n"
		      "job.yaml:3:44: 'invert' does not apply to builtin op 'passthrough' (only "
		      "to grep)\n");
	expect_errors(SRC "sinks:\n  - {name: o, type: stdout, path: /x, fsync: always}\n",
		      "job.yaml:5:29: 'path' does not apply to a stdout sink (only to file, unix)\n"
		      "job.yaml:5:39: 'fsync' does not apply to a stdout sink (only to file)\n");
	expect_errors("dead_letter: {type: stdout, path: /x}\n" SRC SINK,
		      "job.yaml:1:29: 'path' does not apply to a stdout dead_letter (only to "
		      "file)\n");
}
END_TEST

/* --- values ------------------------------------------------------------------------ */

START_TEST(enum_did_you_mean)
{
	expect_errors("sources:\n  - name: jobs\n    type: fil\n    path: /x\n" SINK,
		      "job.yaml:3:11: 'type' must be one of file, stdin, exec, generate, tcp, "
		      "unix, http, dir, redis-stream; got "
		      "'fil'; did you mean 'file'?\n");
	expect_errors("queue: {when_full: drop-newest}\n" SRC SINK,
		      "job.yaml:1:20: 'when_full' must be one of block, drop_newest, drop_oldest; "
		      "got 'drop-newest'; did you mean 'drop_newest'?\n");
	expect_errors(SRC "sinks:\n  - {name: o, type: file, path: /x, fsync: sometimes}\n",
		      "job.yaml:5:44: 'fsync' must be one of never, batch, always; got "
		      "'sometimes'\n");
	expect_errors("log: {level: loud, format: jsn}\n" SRC SINK,
		      "job.yaml:1:14: 'level' must be one of error, warn, info, debug; got "
		      "'loud'\n"
		      "job.yaml:1:28: 'format' must be one of text, json; got 'jsn'; did you mean "
		      "'json'?\n");
	expect_errors("sources:\n  - {name: a, type: [file]}\n" SINK,
		      "job.yaml:2:21: 'type' must be one of file, stdin, exec, generate, tcp, "
		      "unix, http, dir, redis-stream; got a "
		      "list\n");
	expect_errors("sources:\n  - {name: a, type: Stdin}\n" SINK,
		      "job.yaml:2:21: 'type' must be one of file, stdin, exec, generate, tcp, "
		      "unix, http, dir, redis-stream; got "
		      "'Stdin'; did you mean 'stdin'?\n");
}
END_TEST

START_TEST(bad_durations)
{
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    builtin: {op: passthrough}\n"
		      "    timeout: fast\n" SRC SINK,
		      "job.yaml:4:14: expected a duration like 250ms, 5s, 2m, 1h for 'timeout', "
		      "got 'fast'\n");
	expect_errors("shutdown:\n  grace: 30\n  kill_after: -1s\n" SRC SINK,
		      "job.yaml:2:10: expected a duration like 250ms, 5s, 2m, 1h for 'grace', got "
		      "'30'; a duration needs a unit (us, ms, s, m, h, d)\n"
		      "job.yaml:3:15: expected a duration like 250ms, 5s, 2m, 1h for "
		      "'kill_after', got '-1s'; a duration cannot be negative\n");
	expect_errors("deadline:\n" SRC SINK,
		      "job.yaml:1:10: expected a duration like 250ms, 5s, 2m, 1h for 'deadline', "
		      "got nothing\n");
	expect_errors("sources:\n  - {name: g, type: generate, interval: {a: 1}}\n" SINK,
		      "job.yaml:2:41: expected a duration like 250ms, 5s, 2m, 1h for 'interval', "
		      "got a mapping\n");
}
END_TEST

START_TEST(bad_sizes)
{
	expect_errors("memory_limit: lots\nmax_item_bytes: 0\nqueue: {max_bytes: 0KiB}\n" SRC SINK,
		      "job.yaml:1:15: expected a size like 512, 64KiB, 16MiB, 1GiB for "
		      "'memory_limit', got 'lots'\n"
		      "job.yaml:2:17: 'max_item_bytes' must be greater than 0\n"
		      "job.yaml:3:20: 'max_bytes' must be greater than 0\n");
	expect_errors("memory_limit: 1.5\n" SRC SINK,
		      "job.yaml:1:15: expected a size like 512, 64KiB, 16MiB, 1GiB for "
		      "'memory_limit', got '1.5'; size is not a whole number of bytes\n");
}
END_TEST

START_TEST(bad_integers)
{
	expect_errors("stages:\n"
		      "  - name: a\n"
		      "    workers: 0\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: b\n"
		      "    workers: 100001\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: c\n"
		      "    workers: four\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: d\n"
		      "    workers: -1\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: e\n"
		      "    workers: 1.5\n"
		      "    builtin: {op: passthrough}\n" SRC SINK,
		      "job.yaml:3:14: 'workers' must be between 1 and 100000, got 0\n"
		      "job.yaml:6:14: 'workers' must be between 1 and 100000, got 100001\n"
		      "job.yaml:9:14: expected a non-negative integer for 'workers', got 'four'\n"
		      "job.yaml:12:14: expected a non-negative integer for 'workers', got '-1'\n"
		      "job.yaml:15:14: expected a non-negative integer for 'workers', got '1.5'\n");
	expect_errors("queue: {capacity: 0}\n" SRC SINK,
		      "job.yaml:1:19: 'capacity' must be between 1 and 10000000, got 0\n");
	expect_errors("queue: {capacity: 10000001}\n" SRC SINK,
		      "job.yaml:1:19: 'capacity' must be between 1 and 10000000, got 10000001\n");
	expect_errors("queue: {capacity: 99999999999999999999999}\n" SRC SINK,
		      "job.yaml:1:19: 'capacity' must be between 1 and 10000000, got "
		      "99999999999999999999999\n");
	expect_errors("sources:\n  - {name: g, type: generate, count: -1}\n" SINK,
		      "job.yaml:2:38: expected a non-negative integer for 'count', got '-1'\n");
	expect_errors("sources:\n  - {name: g, type: generate, count: 9223372036854775808}\n" SINK,
		      "job.yaml:2:38: 'count' must be between 0 and 9223372036854775807, got "
		      "9223372036854775808\n");
}
END_TEST

START_TEST(bad_booleans)
{
	expect_errors("sources:\n  - {name: f, type: file, path: /x, follow: maybe}\n" SINK,
		      "job.yaml:2:45: expected true or false for 'follow', got 'maybe'\n");
	expect_errors("sources:\n  - {name: f, type: file, path: /x, follow: on}\n" SINK,
		      "job.yaml:2:45: expected true or false for 'follow', got 'on'\n");
}
END_TEST

START_TEST(bad_strings)
{
	expect_errors("sources:\n  - {name: f, type: file, path: }\n" SINK,
		      "job.yaml:2:33: expected a string for 'path', got nothing\n");
	expect_errors("sources:\n  - {name: f, type: file, path: \"\"}\n" SINK,
		      "job.yaml:2:33: 'path' must not be empty\n");
	expect_errors("sources:\n  - {name: f, type: file, path: [a]}\n" SINK,
		      "job.yaml:2:33: expected a string for 'path', got a list\n");
	expect_errors("sources:\n  - {name: f, type: file, path: \"a\\0b\"}\n" SINK,
		      "job.yaml:2:33: 'path' must not contain a NUL character\n");
	expect_errors("shutdown: {spool: ''}\n" SRC SINK,
		      "job.yaml:1:19: 'spool' must not be empty\n");
}
END_TEST

START_TEST(bad_mappings_and_lists)
{
	expect_errors("queue: 5\nshutdown: [a]\nlog: debug\n" SRC SINK,
		      "job.yaml:1:8: expected a mapping for 'queue', got '5'\n"
		      "job.yaml:2:11: expected a mapping for 'shutdown', got a list\n"
		      "job.yaml:3:6: expected a mapping for 'log', got 'debug'\n");
	expect_errors("sources: {name: a}\n" SINK,
		      "job.yaml:1:10: expected a list for 'sources', got a mapping\n");
	expect_errors("sources: []\n" SINK, "job.yaml:1:10: 'sources' needs at least one source\n");
	expect_errors(SRC "sinks: []\n", "job.yaml:4:8: 'sinks' needs at least one sink\n");
	expect_errors("sources:\n" SINK,
		      "job.yaml:1:9: expected a list for 'sources', got nothing\n");
	expect_errors("stages: [resize]\n" SRC SINK,
		      "job.yaml:1:10: each entry of 'stages' must be a mapping, got 'resize'\n");
	expect_errors("stages: {a: 1}\n" SRC SINK,
		      "job.yaml:1:9: expected a list for 'stages', got a mapping\n");
}
END_TEST

START_TEST(missing_sources_and_sinks)
{
	expect_errors("name: x\n", "job.yaml:1:1: missing 'sources': a pipeline needs at least "
				   "one source\n"
				   "job.yaml:1:1: missing 'sinks': a pipeline needs at least one "
				   "sink\n");
	expect_errors("# header\n\nname: x\n" SRC,
		      "job.yaml:3:1: missing 'sinks': a pipeline needs at least one sink\n");
}
END_TEST

START_TEST(missing_required_keys)
{
	expect_errors("sources:\n  - name: jobs\n    type: file\n" SINK,
		      "job.yaml:2:5: source 'jobs' (type file) needs 'path'\n");
	expect_errors("sources:\n  - name: ls\n    type: exec\n" SINK,
		      "job.yaml:2:5: source 'ls' (type exec) needs 'argv'\n");
	expect_errors("sources:\n  - type: stdin\n  - name: x\n" SINK,
		      "job.yaml:2:5: source #1 needs 'name'\n"
		      "job.yaml:3:5: source 'x' needs 'type' (one of file, stdin, exec, "
		      "generate, tcp, unix, http, dir, redis-stream)\n");
	expect_errors(SRC "sinks:\n  - name: o\n    type: file\n  - type: stdout\n",
		      "job.yaml:5:5: sink 'o' (type file) needs 'path'\n"
		      "job.yaml:7:5: sink #2 needs 'name'\n");
	expect_errors(SRC "sinks:\n  - name: o\n",
		      "job.yaml:5:5: sink 'o' needs 'type' (one of file, stdout, discard, tcp, "
		      "unix, exec, http, redis-stream)\n");
	expect_errors("dead_letter: {type: file}\n" SRC SINK,
		      "job.yaml:1:14: dead_letter (type file) needs 'path'\n");
	expect_errors("stages:\n  - name: a\n    exec: {stdin: item}\n" SRC SINK,
		      "job.yaml:3:11: 'exec' of stage 'a' needs 'argv'\n");
	expect_errors("stages:\n  - name: a\n    builtin: {invert: true}\n" SRC SINK,
		      "job.yaml:3:14: 'builtin' of stage 'a' needs 'op' (passthrough or grep)\n");
	expect_errors("stages:\n  - name: a\n    builtin: {op: grep}\n" SRC SINK,
		      "job.yaml:3:14: builtin grep in stage 'a' needs 'pattern'\n");
}
END_TEST

START_TEST(exec_and_builtin)
{
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    exec: {argv: [x]}\n"
		      "    builtin: {op: passthrough}\n" SRC SINK,
		      "job.yaml:4:5: stage 'resize' has more than one of 'exec', 'builtin', "
		      "'coprocess' and 'http'; a stage has exactly one\n");
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    workers: 2\n" SRC SINK,
		      "job.yaml:2:5: stage 'resize' needs one of 'exec', 'builtin', 'coprocess' or "
		      "'http'\n");
}
END_TEST

START_TEST(bad_argv)
{
	const char *msg = "'argv' must be a non-empty list of strings";
	char want[512];

	snprintf(want, sizeof(want), "job.yaml:3:11: %s\n", msg);
	expect_errors("sources:\n  - name: ls\n    argv: []\n    type: exec\n" SINK, want);
	expect_errors("sources:\n  - name: ls\n    argv: ls\n    type: exec\n" SINK, want);
	snprintf(want, sizeof(want), "job.yaml:3:16: %s\njob.yaml:3:21: %s\n", msg, msg);
	expect_errors("sources:\n  - name: ls\n    argv: [ls, [a], {b: c}]\n    type: exec\n" SINK,
		      want);
	expect_errors("stages:\n  - name: a\n    exec: {argv: [\"\", x]}\n" SRC SINK,
		      "job.yaml:3:19: the program to run (the first element of 'argv') must not "
		      "be empty\n");
}
END_TEST

START_TEST(bad_env)
{
	expect_errors("stages:\n  - name: a\n    exec: {argv: [x], env: [A=1]}\n" SRC SINK,
		      "job.yaml:3:28: 'env' must be a mapping of names to strings, got a list\n");
	expect_errors(
	    "stages:\n  - name: a\n    exec: {argv: [x], env: {A=B: 1, C: [d]}}\n" SRC SINK,
	    "job.yaml:3:29: environment variable name 'A=B' must be non-empty, without "
	    "'='\n"
	    "job.yaml:3:40: expected a string for 'C', got a list\n");
}
END_TEST

START_TEST(bad_pattern)
{
	char want[512], msg[256];
	regex_t re;
	int rc = regcomp(&re, "(unclosed", REG_EXTENDED | REG_NOSUB);

	ck_assert_int_ne(rc, 0);
	regerror(rc, &re, msg, sizeof(msg));
	snprintf(want, sizeof(want),
		 "job.yaml:3:34: 'pattern' is not a valid extended regular expression: %s\n", msg);
	expect_errors(
	    "stages:\n  - name: a\n    builtin: {op: grep, pattern: \"(unclosed\"}\n" SRC SINK,
	    want);
}
END_TEST

START_TEST(bad_names)
{
	expect_errors("name: \"my pipeline\"\n" SRC SINK,
		      "job.yaml:1:7: pipeline name 'my pipeline' may only contain letters, "
		      "digits, '_', '.' and '-'\n");
	expect_errors("sources:\n  - {name: \"a/b\", type: stdin}\n" SINK,
		      "job.yaml:2:12: source name 'a/b' may only contain letters, digits, '_', '.' "
		      "and '-'\n");
	expect_errors("stages:\n  - {name: \"\", builtin: {op: passthrough}}\n" SRC SINK,
		      "job.yaml:2:12: stage name must not be empty\n");
	expect_errors(SRC "sinks:\n  - {name: \"\\u00e9\", type: stdout}\n",
		      "job.yaml:5:12: sink name '\xc3\xa9' may only contain letters, digits, '_', "
		      "'.' and '-'\n");
}
END_TEST

/* Names are stored whole in spool records and joblog lines: at most 127 bytes. */
START_TEST(long_names)
{
	char n127[128], n128[129], text[1024], want[512];
	memset(n127, 'a', 127);
	n127[127] = '\0';
	memset(n128, 'b', 128);
	n128[128] = '\0';
	snprintf(
	    text, sizeof(text),
	    "name: %s\nsources:\n  - {name: %s, type: stdin}\nstages:\n"
	    "  - {name: %s, builtin: {op: passthrough}}\nsinks:\n  - {name: %s, type: stdout}\n",
	    n127, n127, n127, n127);
	struct conf *c = load_ok(text);
	ck_assert_str_eq(c->stages[0].name, n127);
	conf_free(c);
	snprintf(
	    text, sizeof(text),
	    "name: %s\nsources:\n  - {name: %s, type: stdin}\nstages:\n"
	    "  - {name: %s, builtin: {op: passthrough}}\nsinks:\n  - {name: %s, type: stdout}\n",
	    n128, n128, n128, n128);
	snprintf(want, sizeof(want),
		 "job.yaml:1:7: pipeline name '%.32s...' is 128 bytes long; a name is at most "
		 "127 bytes\n"
		 "job.yaml:3:12: source name '%.32s...' is 128 bytes long; a name is at most 127 "
		 "bytes\n"
		 "job.yaml:5:12: stage name '%.32s...' is 128 bytes long; a name is at most 127 "
		 "bytes\n"
		 "job.yaml:7:12: sink name '%.32s...' is 128 bytes long; a name is at most 127 "
		 "bytes\n",
		 n128, n128, n128, n128);
	expect_errors(text, want);
	/* and the pipeline name taken from a long file name */
	char file[160];
	snprintf(file, sizeof(file), "%s.yaml", n128);
	char *errs = load(file, SRC SINK, &c, NULL);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want),
		 "%s:1:1: the pipeline name '%.32s...', taken from the file name, is 128 bytes "
		 "long; a name is at most 127 bytes; set 'name'\n",
		 file, n128);
	ck_assert_str_eq(errs, want);
	free(errs);
	unlink(file);
}
END_TEST

START_TEST(duplicate_names)
{
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: other\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n" SRC SINK,
		      "job.yaml:6:5: duplicate stage name 'resize' (first defined at 2:5)\n"
		      "job.yaml:8:5: duplicate stage name 'resize' (first defined at 2:5)\n");
	expect_errors("sources:\n  - {name: a, type: stdin}\n  - {name: a, type: stdin}\n" SINK,
		      "job.yaml:3:5: duplicate source name 'a' (first defined at 2:5)\n");
	expect_errors(SRC "sinks:\n  - {name: o, type: stdout}\n  - {name: o, type: discard}\n",
		      "job.yaml:6:5: duplicate sink name 'o' (first defined at 5:5)\n");
	/* the same name in different lists is fine */
	conf_free(load_ok("sources:\n  - {name: x, type: stdin}\n"
			  "stages:\n  - {name: x, builtin: {op: passthrough}}\n"
			  "sinks:\n  - {name: x, type: stdout}\n"));
}
END_TEST

START_TEST(dead_letter_required)
{
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n"
		      "    on_failure: dead_letter\n" SRC SINK,
		      "job.yaml:4:17: 'on_failure: dead_letter' in stage 'resize' needs a "
		      "top-level 'dead_letter' block\n");
	/* a broken block is reported once, not again by every stage using it */
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n"
		      "    on_failure: dead_letter\n" SRC SINK "dead_letter: {type: sql}\n",
		      "job.yaml:11:21: 'type' must be one of file, stdout; got 'sql'\n");
	expect_errors("stages:\n"
		      "  - name: resize\n"
		      "    builtin: {op: passthrough}\n"
		      "    on_failure: retry\n" SRC SINK,
		      "job.yaml:4:17: 'on_failure' must be one of skip, dead_letter, cancel; got "
		      "'retry'\n");
}
END_TEST

/* --- many errors ------------------------------------------------------------------- */

START_TEST(all_errors_in_file_order)
{
	/* The top level is interpreted name first, sinks last; errors still come out in order. */
	expect_errors("sinks:\n"
		      "  - name: out\n"
		      "    type: stdot\n"
		      "stages:\n"
		      "  - name: resize\n"
		      "    wrokers: 4\n"
		      "    exec:\n"
		      "      argv: [convert]\n"
		      "      stdout: reslt\n"
		      "    timeout: 5\n"
		      "sources:\n"
		      "  - name: jobs\n"
		      "    type: file\n"
		      "memory_limit: 0\n"
		      "name: \"a b\"\n",
		      "job.yaml:3:11: 'type' must be one of file, stdout, discard, tcp, unix, "
		      "exec, http, redis-stream; got 'stdot'; did you mean 'stdout'?\n"
		      "job.yaml:6:5: unknown key 'wrokers' in stage 'resize'; did you mean "
		      "'workers'?\n"
		      "job.yaml:9:15: 'stdout' must be one of result, lines, discard, item; got "
		      "'reslt'; did you mean 'result'?\n"
		      "job.yaml:10:14: expected a duration like 250ms, 5s, 2m, 1h for 'timeout', "
		      "got '5'; a duration needs a unit (us, ms, s, m, h, d)\n"
		      "job.yaml:12:5: source 'jobs' (type file) needs 'path'\n"
		      "job.yaml:14:15: 'memory_limit' must be greater than 0\n"
		      "job.yaml:15:7: pipeline name 'a b' may only contain letters, digits, '_', "
		      "'.' and '-'\n");
}
END_TEST

START_TEST(too_many_errors)
{
	char *text = NULL, *errs;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&text, &len);
	struct conf *c;

	fputs(SRC SINK "stages:\n", f);
	for (int i = 0; i < 150; i++)
		fprintf(f, "  - {name: s%d, bogus: 1, builtin: {op: passthrough}}\n", i);
	fclose(f);
	errs = load("job.yaml", text, &c, NULL);
	ck_assert_ptr_null(c);
	for (const char *p = errs; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, 101);
	ck_assert_ptr_nonnull(strstr(errs, "job.yaml:8:16: unknown key 'bogus' in stage 's0'\n"));
	ck_assert_ptr_nonnull(strstr(errs, "\njob.yaml: too many errors; stopped after 100\n"));
	free(text);
	free(errs);
}
END_TEST

/* --- printing ---------------------------------------------------------------------- */

START_TEST(print_minimal)
{
	struct conf *c;
	char *p;

	unsetenv("STATE_DIRECTORY");
	c = load_ok(SRC SINK);
	p = print_conf(c);
	ck_assert_str_eq(p, "name: \"job\"\n"
			    "queue:\n"
			    "  capacity: 1024\n"
			    "  max_bytes: 64MiB\n"
			    "  when_full: block\n"
			    "memory_limit: 512MiB\n"
			    "max_item_bytes: 1MiB\n"
			    "shutdown:\n"
			    "  grace: 30s\n"
			    "  kill_after: 5s\n"
			    "deadline: 0s\n"
			    "sources:\n"
			    "  - name: \"in\"\n"
			    "    type: stdin\n"
			    "    framing: lines\n"
			    "stages: []\n"
			    "sinks:\n"
			    "  - name: \"out\"\n"
			    "    type: stdout\n"
			    "log:\n"
			    "  level: info\n"
			    "  format: text\n");
	free(p);
	conf_free(c);
}
END_TEST

START_TEST(print_round_trip_full)
{
	char *p;

	setenv("STATE_DIRECTORY", "/var/lib/sluice", 1);
	p = round_trip(
	    "name: rt\n"
	    "queue: {capacity: 3, max_bytes: 1000, when_full: drop_oldest}\n"
	    "memory_limit: 1536KiB\n"
	    "max_item_bytes: 1.5KiB\n"
	    "shutdown: {grace: 90s, kill_after: 1500ms}\n"
	    "deadline: 1d1s\n"
	    "sources:\n"
	    "  - {name: f, type: file, path: /in, follow: true, framing: nul}\n"
	    "  - {name: s, type: stdin, framing: nul}\n"
	    "  - {name: e, type: exec, argv: [find, /, -name, \"*.jpg\"]}\n"
	    "  - {name: g, type: generate, count: 5, interval: 250ms, template: \"x-{seq}\"}\n"
	    "  - {name: g2, type: generate}\n"
	    "stages:\n"
	    "  - name: a\n"
	    "    workers: 100000\n"
	    "    queue: {when_full: drop_newest}\n"
	    "    exec:\n"
	    "      argv: [sh, -c, 'echo \"$1\"', sh, \"{}\"]\n"
	    "      stdin: item\n"
	    "      stdout: discard\n"
	    "      env: {A: \"1\", B: \"\"}\n"
	    "      cwd: /tmp\n"
	    "    timeout: 1m30s\n"
	    "    on_failure: dead_letter\n"
	    "  - {name: b, builtin: {op: grep, pattern: \"^a|b$\", invert: yes}}\n"
	    "  - {name: c, builtin: {op: passthrough}, on_failure: cancel}\n"
	    "sinks:\n"
	    "  - {name: o, type: file, path: /out, fsync: always}\n"
	    "  - {name: d, type: discard}\n"
	    "  - {name: so, type: stdout}\n"
	    "dead_letter: {path: /dl}\n"
	    "log: {level: warn, format: json}\n");
	ck_assert_ptr_nonnull(strstr(p, "  spool: \"/var/lib/sluice/rt.spool\"\n"));
	ck_assert_ptr_nonnull(strstr(p, "memory_limit: 1536KiB\n"));
	ck_assert_ptr_nonnull(strstr(p, "max_item_bytes: 1536\n"));
	ck_assert_ptr_nonnull(strstr(p, "  grace: 90s\n  kill_after: 1500ms\n"));
	ck_assert_ptr_nonnull(strstr(p, "deadline: 1d1s\n"));
	ck_assert_ptr_nonnull(
	    strstr(p, "      argv: [\"sh\", \"-c\", \"echo \\\"$1\\\"\", \"sh\", \"{}\"]\n"));
	ck_assert_ptr_nonnull(strstr(p, "    timeout: 90s\n"));
	unsetenv("STATE_DIRECTORY");
	free(p);
}
END_TEST

START_TEST(print_round_trip_strings)
{
	/* Every kind of character a double-quoted YAML scalar must escape, or may carry. */
	static const char *const want[] = {
	    "x",
	    "",
	    "quote \" backslash \\ end",
	    "tab\there\nnewline\rcr",
	    "ctl \x01\x1f\x7f",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "nel \xc2\x85 c1 \xc2\x9f nbsp \xc2\xa0",
	    "ls \xe2\x80\xa8 ps \xe2\x80\xa9 bom \xef\xbb\xbf",
	    "# not a comment",
	    "key: value",
	    "- dash",
	    "'single'",
	    "{} [x] *star &amp !bang %pct @at `tick` |pipe >gt",
	    "null",
	    "true",
	    "123",
	    " leading and trailing ",
	    "---",
	};
	const char *text = "stages:\n"
			   "  - name: a\n"
			   "    exec:\n"
			   "      argv:\n"
			   "        - x\n"
			   "        - \"\"\n"
			   "        - 'quote \" backslash \\ end'\n"
			   "        - \"tab\\there\\nnewline\\rcr\"\n"
			   "        - \"ctl \\x01\\x1f\\x7f\"\n"
			   "        - \"caf\\u00e9 \\u20ac \\U0001F600\"\n"
			   "        - \"nel \\N c1 \\x9f nbsp \\_\"\n"
			   "        - \"ls \\L ps \\P bom \\uFEFF\"\n"
			   "        - \"# not a comment\"\n"
			   "        - \"key: value\"\n"
			   "        - \"- dash\"\n"
			   "        - \"'single'\"\n"
			   "        - \"{} [x] *star &amp !bang %pct @at `tick` |pipe >gt\"\n"
			   "        - \"null\"\n"
			   "        - \"true\"\n"
			   "        - \"123\"\n"
			   "        - \" leading and trailing \"\n"
			   "        - \"---\"\n"
			   "      env: {\"we\\\"ird\": \"va\\\\l\\nue\"}\n" SRC SINK;
	const size_t n = sizeof(want) / sizeof(want[0]);
	struct conf *c = load_ok(text), *c2;
	char *p1 = print_conf(c), *p2;

	ck_assert_uint_eq(c->stages[0].argc, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(c->stages[0].argv[i], want[i]);
	c2 = load_ok_as("printed.yaml", p1);
	ck_assert_uint_eq(c2->stages[0].argc, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(c2->stages[0].argv[i], want[i]);
	ck_assert_str_eq(c2->stages[0].env[0].name, "we\"ird");
	ck_assert_str_eq(c2->stages[0].env[0].value, "va\\l\nue");
	p2 = print_conf(c2);
	ck_assert_str_eq(p1, p2);
	/* the printer escapes what YAML would otherwise fold or reject */
	ck_assert_ptr_nonnull(strstr(p1, "\"ctl \\x01\\x1F\\x7F\""));
	ck_assert_ptr_nonnull(strstr(p1, "\"nel \\N c1 \\x9F nbsp \xc2\xa0\""));
	ck_assert_ptr_nonnull(strstr(p1, "\"ls \\L ps \\P bom \\uFEFF\""));
	free(p1);
	free(p2);
	conf_free(c);
	conf_free(c2);
}
END_TEST

/* --- network and spool sources ---------------------------------------------------- */

START_TEST(net_source_defaults)
{
	struct conf *c = load_ok("sources:\n"
				 "  - {name: t, type: tcp, listen: \"127.0.0.1:7000\"}\n"
				 "  - {name: u, type: unix, path: /run/in.sock}\n"
				 "  - {name: h, type: http, listen: \"[::1]:8080\"}\n"
				 "  - {name: d, type: dir, path: /var/spool/jobs/}\n" SINK);
	const struct conf_source *t = &c->sources[0], *u = &c->sources[1], *h = &c->sources[2],
				 *d = &c->sources[3];

	ck_assert_str_eq(conf_kind_name(t->kind), "tcp");
	ck_assert_str_eq(t->listen, "127.0.0.1:7000");
	ck_assert_uint_eq(t->max_connections, 64);
	ck_assert_uint_eq(t->idle_timeout, 0);
	ck_assert(!t->ack);
	ck_assert_int_eq(t->framing, FRAMING_LINES);
	ck_assert_str_eq(conf_kind_name(u->kind), "unix");
	ck_assert_str_eq(u->path, "/run/in.sock");
	ck_assert_uint_eq(u->max_connections, 64);
	ck_assert_str_eq(conf_kind_name(h->kind), "http");
	ck_assert_str_eq(h->listen, "[::1]:8080");
	ck_assert_str_eq(h->path, "/");
	ck_assert_int_eq(h->split, SPLIT_NONE);
	ck_assert(!h->ack);
	ck_assert_uint_eq(h->queue_timeout, 5 * SEC);
	ck_assert_uint_eq(h->max_body, 16 * MIB);
	ck_assert_str_eq(conf_kind_name(d->kind), "dir");
	ck_assert_int_eq(d->split, SPLIT_NONE);
	ck_assert_str_eq(d->done_dir, "/var/spool/jobs//done");
	ck_assert_str_eq(d->failed_dir, "/var/spool/jobs//failed");
	ck_assert(!d->delete_done);
	conf_free(c);
}
END_TEST

START_TEST(net_source_keys)
{
	struct conf *c = load_ok(
	    "sources:\n"
	    "  - name: t\n"
	    "    type: tcp\n"
	    "    listen: \"0.0.0.0:7000\"\n"
	    "    framing: nul\n"
	    "    max_connections: 3\n"
	    "    idle_timeout: 90s\n"
	    "    ack: true\n"
	    "  - {name: h, type: http, listen: \"localhost:80\", path: /in, split: lines,\n"
	    "     ack: yes, queue_timeout: 250ms, max_body: 1MiB}\n"
	    "  - {name: d, type: dir, path: sp, split: nul, delete: true, failed_dir: bad}\n"
	    "  - {name: e, type: dir, path: sp2, done_dir: /ok}\n" SINK);
	const struct conf_source *t = &c->sources[0], *h = &c->sources[1], *d = &c->sources[2],
				 *e = &c->sources[3];

	ck_assert_int_eq(t->framing, FRAMING_NUL);
	ck_assert_uint_eq(t->max_connections, 3);
	ck_assert_uint_eq(t->idle_timeout, 90 * SEC);
	ck_assert(t->ack);
	ck_assert_str_eq(h->path, "/in");
	ck_assert_int_eq(h->split, SPLIT_LINES);
	ck_assert(h->ack);
	ck_assert_uint_eq(h->queue_timeout, 250000);
	ck_assert_uint_eq(h->max_body, MIB);
	ck_assert_int_eq(d->split, SPLIT_NUL);
	ck_assert(d->delete_done);
	ck_assert_ptr_null(d->done_dir);
	ck_assert_str_eq(d->failed_dir, "bad");
	ck_assert_str_eq(e->done_dir, "/ok");
	ck_assert_str_eq(e->failed_dir, "sp2/failed");
	conf_free(c);
}
END_TEST

/* The daemon's own endpoints are checked by the loader, with their positions. */
START_TEST(service_value_errors)
{
	expect_errors(SRC SINK "metrics: {listen: \"9464\"}\n",
		      "job.yaml:7:19: metrics.listen '9464': expected HOST:PORT, e.g. "
		      "127.0.0.1:9464\n");
	expect_errors(SRC SINK "metrics:\n  listen: \"::1:9464\"\n",
		      "job.yaml:8:11: metrics.listen '::1:9464': write an IPv6 address in "
		      "brackets, e.g. [::1]:9464\n");
	expect_errors(
	    SRC SINK "control: {socket: "
		     "/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock}\n",
	    "job.yaml:7:19: control.socket "
	    "'/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock' is too long for a Unix "
	    "socket path (125 bytes, the limit is 107)\n");
}
END_TEST

START_TEST(net_source_errors)
{
	expect_errors("sources:\n  - {name: t, type: tcp}\n  - {name: h, type: http}\n"
		      "  - {name: u, type: unix}\n  - {name: d, type: dir}\n" SINK,
		      "job.yaml:2:5: source 't' (type tcp) needs 'listen'\n"
		      "job.yaml:3:5: source 'h' (type http) needs 'listen'\n"
		      "job.yaml:4:5: source 'u' (type unix) needs 'path'\n"
		      "job.yaml:5:5: source 'd' (type dir) needs 'path'\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"7000\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got '7000': "
		      "expected HOST:PORT\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"localhost:0\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got "
		      "'localhost:0': the port must be a number from 1 to 65535\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"h:65536\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got "
		      "'h:65536': the port must be a number from 1 to 65535\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"h:http\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got "
		      "'h:http': the port must be a number from 1 to 65535\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"::1:80\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got '::1:80': "
		      "an IPv6 address goes in brackets, as in [::1]:PORT\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"[::1:80\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got '[::1:80': "
		      "an IPv6 address needs its closing ']'\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \"[zz]:80\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got '[zz]:80': "
		      "what is between '[' and ']' is not an IPv6 address\n");
	expect_errors("sources:\n  - {name: t, type: tcp, listen: \":80\"}\n" SINK,
		      "job.yaml:2:34: 'listen' must be HOST:PORT (or [IPV6]:PORT), got ':80': the "
		      "host is missing (0.0.0.0 listens on every address)\n");
	expect_errors("sources:\n  - {name: h, type: http, listen: \"a:1\", path: in}\n" SINK,
		      "job.yaml:2:48: 'path' of an http source is a URL path and must start with "
		      "'/', got 'in'\n");
	expect_errors(
	    "sources:\n  - {name: d, type: dir, path: /s, delete: true, done_dir: /d}\n" SINK,
	    "job.yaml:2:50: 'done_dir' does not apply with 'delete: true' (finished files "
	    "are removed)\n");
	expect_errors("sources:\n  - {name: d, type: dir, path: /s/, done_dir: /s}\n" SINK,
		      "job.yaml:2:37: 'done_dir' of source 'd' must not be the spool directory "
		      "itself\n");
	expect_errors(
	    "sources:\n  - {name: f, type: file, path: /x, ack: true, split: lines}\n"
	    "  - {name: t, type: tcp, listen: \"a:1\", max_body: 1KiB, max_connections: 0}\n" SINK,
	    "job.yaml:2:37: 'ack' does not apply to a file source (only to tcp, unix, "
	    "http)\n"
	    "job.yaml:2:48: 'split' does not apply to a file source (only to http, dir)\n"
	    "job.yaml:3:41: 'max_body' does not apply to a tcp source (only to http)\n"
	    "job.yaml:3:74: 'max_connections' must be between 1 and 100000, got 0\n");
	expect_errors("sources:\n  - {name: d, type: dir, path: /s, split: line}\n" SINK,
		      "job.yaml:2:43: 'split' must be one of none, lines, nul; got 'line'; did "
		      "you mean 'lines'?\n");
	expect_errors(
	    "sources:\n  - {name: t, type: tcp, listen: \"a:1\", idel_timeout: 1s}\n" SINK,
	    "job.yaml:2:41: unknown key 'idel_timeout' in source 't'; did you mean "
	    "'idle_timeout'?\n");
}
END_TEST

START_TEST(net_source_round_trip)
{
	char *p =
	    round_trip("sources:\n"
		       "  - {name: t, type: tcp, listen: \"[::]:7000\", framing: nul, ack: true,\n"
		       "     max_connections: 5, idle_timeout: 1m}\n"
		       "  - {name: u, type: unix, path: /run/s.sock}\n"
		       "  - {name: h, type: http, listen: \"127.0.0.1:80\", path: /x, split: nul,\n"
		       "     queue_timeout: 2s, max_body: 3MiB, ack: true, max_connections: 7}\n"
		       "  - {name: d, type: dir, path: /sp, delete: true}\n"
		       "  - {name: d2, type: dir, path: /sp2, split: lines, done_dir: /ok}\n" SINK);
	ck_assert_ptr_nonnull(strstr(p, "    listen: \"[::]:7000\"\n    max_connections: 5\n"
					"    idle_timeout: 1m\n    ack: true\n    framing: nul\n"));
	ck_assert_ptr_nonnull(strstr(p, "    path: \"/x\"\n    split: nul\n    ack: true\n"
					"    queue_timeout: 2s\n    max_body: 3MiB\n"
					"    max_connections: 7\n"));
	ck_assert_ptr_nonnull(strstr(p, "    path: \"/sp\"\n    split: none\n"
					"    failed_dir: \"/sp/failed\"\n    delete: true\n"));
	ck_assert_ptr_nonnull(
	    strstr(p, "    done_dir: \"/ok\"\n    failed_dir: \"/sp2/failed\"\n"));
	free(p);
}
END_TEST

START_TEST(net_sink_defaults)
{
	struct conf *c = load_ok(SRC "sinks:\n"
				     "  - {name: t, type: tcp, address: \"127.0.0.1:9000\"}\n"
				     "  - {name: u, type: unix, path: /run/out.sock}\n"
				     "  - {name: e, type: exec, argv: [logger, -t, x]}\n"
				     "  - {name: h, type: http, url: \"http://collector/in\"}\n");
	const struct conf_sink *t = &c->sinks[0], *u = &c->sinks[1], *e = &c->sinks[2],
			       *h = &c->sinks[3];

	ck_assert_str_eq(conf_kind_name(t->kind), "tcp");
	ck_assert_str_eq(t->address, "127.0.0.1:9000");
	ck_assert_uint_eq(t->timeout, 10 * SEC);
	ck_assert_uint_eq(t->backoff, 100000);
	ck_assert_uint_eq(t->max_backoff, 10 * SEC);
	ck_assert_str_eq(conf_kind_name(u->kind), "unix");
	ck_assert_str_eq(u->path, "/run/out.sock");
	ck_assert_str_eq(conf_kind_name(e->kind), "exec");
	ck_assert_uint_eq(e->argc, 3);
	ck_assert_str_eq(e->argv[2], "x");
	ck_assert_str_eq(conf_kind_name(h->kind), "http");
	ck_assert_str_eq(h->http.url, "http://collector/in");
	ck_assert_int_eq(h->http.method, HTTP_POST);
	ck_assert_uint_eq(h->http.timeout, 30 * SEC);
	ck_assert_uint_eq(h->http.n_headers, 0);
	ck_assert_uint_eq(h->batch.max_items, 1);
	ck_assert_uint_eq(h->batch.max_bytes, MIB);
	ck_assert_uint_eq(h->batch.timeout, SEC);
	conf_free(c);
}
END_TEST

START_TEST(net_sink_keys)
{
	struct conf *c =
	    load_ok(SRC "sinks:\n"
			"  - {name: t, type: tcp, address: \"[::1]:9\", timeout: 2s,\n"
			"     backoff: 10ms, max_backoff: 1m}\n"
			"  - name: h\n"
			"    type: http\n"
			"    url: \"http://10.0.0.1:8080/a?b=c\"\n"
			"    method: PUT\n"
			"    timeout: 5s\n"
			"    headers: {Authorization: \"Bearer x\", X-Tag: a}\n"
			"    batch: {max_items: 500, max_bytes: 4MiB, timeout: 250ms}\n");
	const struct conf_sink *t = &c->sinks[0], *h = &c->sinks[1];

	ck_assert_uint_eq(t->timeout, 2 * SEC);
	ck_assert_uint_eq(t->backoff, 10000);
	ck_assert_uint_eq(t->max_backoff, 60 * SEC);
	ck_assert_int_eq(h->http.method, HTTP_PUT);
	ck_assert_uint_eq(h->http.timeout, 5 * SEC);
	ck_assert_uint_eq(h->timeout, 10 * SEC); /* the socket timeout does not apply */
	ck_assert_uint_eq(h->http.n_headers, 2);
	ck_assert_str_eq(h->http.headers[0].name, "Authorization");
	ck_assert_str_eq(h->http.headers[0].value, "Bearer x");
	ck_assert_uint_eq(h->batch.max_items, 500);
	ck_assert_uint_eq(h->batch.max_bytes, 4 * MIB);
	ck_assert_uint_eq(h->batch.timeout, 250000);
	conf_free(c);
}
END_TEST

START_TEST(net_sink_errors)
{
	expect_errors(SRC "sinks:\n  - {name: t, type: tcp}\n  - {name: u, type: unix}\n"
			  "  - {name: e, type: exec}\n  - {name: h, type: http}\n",
		      "job.yaml:5:5: sink 't' (type tcp) needs 'address'\n"
		      "job.yaml:6:5: sink 'u' (type unix) needs 'path'\n"
		      "job.yaml:7:5: sink 'e' (type exec) needs 'argv'\n"
		      "job.yaml:8:5: sink 'h' (type http) needs 'url'\n");
	expect_errors(SRC "sinks:\n  - {name: h, type: http, url: \"x.com/a\"}\n",
		      "job.yaml:5:32: 'url' must be http[s]://HOST[:PORT]/PATH, got 'x.com/a': "
		      "expected an http:// or https:// URL\n");
	expect_errors(
	    SRC "sinks:\n  - {name: h, type: http, url: \"http://x/\", method: GET}\n",
	    "job.yaml:5:53: 'method' of an http sink must be POST, PUT or PATCH (it sends "
	    "a body), got 'GET'\n");
	expect_errors(SRC "sinks:\n  - {name: t, type: tcp, address: \"a:1\", url: \"http://x/\", "
			  "fsync: always, batch: {max_items: 2}}\n",
		      "job.yaml:5:42: 'url' does not apply to a tcp sink (only to http)\n"
		      "job.yaml:5:60: 'fsync' does not apply to a tcp sink (only to file)\n"
		      "job.yaml:5:75: 'batch' does not apply to a tcp sink (only to http)\n");
	expect_errors(
	    SRC "sinks:\n  - {name: h, type: http, url: \"http://x/\", headers: {\"a b\": "
		"c, X: \"1\\n2\"}, batch: {max_itmes: 3}}\n",
	    "job.yaml:5:55: header name 'a b' in 'headers' of sink 'h' is not a valid HTTP "
	    "header name\n"
	    "job.yaml:5:68: header 'X' in sink 'h' must not contain a line break\n"
	    "job.yaml:5:85: unknown key 'max_itmes' in 'batch' of sink 'h'; did you mean "
	    "'max_items'?\n");
	expect_errors(SRC "sinks:\n  - {name: t, type: tcp, address: \"a:1\", backoff: 2s, "
			  "max_backoff: 1s, timeout: 0s}\n",
		      "job.yaml:5:55: 'max_backoff' of sink 't' must not be less than 'backoff'\n"
		      "job.yaml:5:81: 'timeout' of sink 't' must be greater than 0\n");
	expect_errors(SRC "sinks:\n  - {name: h, type: http, url: \"http://x/\", headers: {X-A: 1, "
			  "x-a: 2}}\n",
		      "job.yaml:5:63: duplicate header 'x-a' in 'headers' of sink 'h' (first at "
		      "5:55)\n");
	expect_errors(SRC "sinks:\n  - {name: t, type: tcp, address: \"a\"}\n",
		      "job.yaml:5:35: 'address' must be HOST:PORT (or [IPV6]:PORT), got 'a': "
		      "expected HOST:PORT\n");
}
END_TEST

/* --- reload: the live keys of the schema ------------------------------------------- */

#define LIVE_BASE(workers, level, path, extra)                                                     \
	SRC "shutdown: {grace: 30s}\n"                                                             \
	    "stages:\n  - {name: s, workers: " workers ", exec: {argv: [cat]}" extra "}\n"         \
	    "sinks:\n  - {name: out, type: file, path: " path "}\n"                                \
	    "log: {level: " level "}\n"

static bool differs(const char *a, const char *b, char *diff, size_t len)
{
	struct conf *ca = load_ok(a), *cb = load_ok(b);
	bool d = conf_structure_differs(ca, cb, diff, len);
	conf_free(ca);
	conf_free(cb);
	return d;
}

START_TEST(reload_live_keys)
{
	struct conf *cur = load_ok(LIVE_BASE("1", "info", "/a", "")), *next;
	char diff[200] = "";

	next = load_ok(LIVE_BASE("4", "debug", "/a",
				 ", timeout: 2s, retry: {attempts: 3}, "
				 "rate: 5/s, max_failures: 10%"));
	ck_assert(!conf_structure_differs(cur, next, diff, sizeof(diff)));
	conf_apply_live(cur, next);
	ck_assert_uint_eq(cur->stages[0].workers, 4);
	ck_assert_uint_eq(cur->stages[0].timeout, 2000000);
	ck_assert_uint_eq(cur->stages[0].retry.attempts, 3);
	ck_assert(cur->stages[0].rate == 5.0);
	ck_assert_uint_eq(cur->stages[0].max_failures, 10);
	ck_assert(cur->stages[0].max_failures_pct);
	ck_assert_int_eq(cur->log.level, LOG_DEBUG);
	conf_free(next);
	conf_free(cur);

	/* Not live: a structural change, named by its key. */
	ck_assert(differs(LIVE_BASE("1", "info", "/a", ""), LIVE_BASE("1", "info", "/b", ""), diff,
			  sizeof(diff)));
	ck_assert_str_eq(diff, "'sinks[0].path' changed");
	ck_assert(differs(LIVE_BASE("1", "info", "/a", ""),
			  LIVE_BASE("1", "info", "/a", ", ordered: true"), diff, sizeof(diff)));
	ck_assert_str_eq(diff, "'stages[0].ordered' changed");
	ck_assert(differs(SRC "stages:\n  - {name: s, exec: {argv: [cat], env: {A: x}}}\n" SINK,
			  SRC "stages:\n  - {name: s, exec: {argv: [cat], env: {A: y}}}\n" SINK,
			  diff, sizeof(diff)));
	ck_assert_str_eq(diff, "'stages[0].exec.env' changed");
	ck_assert(differs(SRC "stages:\n  - {name: s, exec: {argv: [cat]}}\n" SINK,
			  SRC "stages:\n  - {name: s, coprocess: {argv: [cat]}}\n" SINK, diff,
			  sizeof(diff)));
	ck_assert(differs(SRC SINK, SRC SINK "dead_letter: {type: stdout}\n", diff, sizeof(diff)));
	ck_assert_str_eq(diff, "'dead_letter' was added or removed");
	ck_assert(differs(SRC SINK, SRC SINK SINK_TWO, diff, sizeof(diff)));
	/* Live: the log, the shutdown timings, whatever else changes with them. */
	ck_assert(!differs(SRC SINK "log: {format: text}\n", SRC SINK "log: {format: json}\n", diff,
			   sizeof(diff)));
	ck_assert(!differs(SRC SINK "shutdown: {grace: 1s, kill_after: 1s}\n", SRC SINK, diff,
			   sizeof(diff)));
}
END_TEST

/* --check's print: credentials in header values are redacted, harmless ones kept. */
START_TEST(check_print_redacts_headers)
{
	struct conf *c =
	    load_ok(SRC "sinks:\n"
			"  - name: h\n"
			"    type: http\n"
			"    url: \"http://h:1/p\"\n"
			"    headers: {Authorization: \"Bearer t0k\", content-type: text/plain,"
			" X-Key: k3y}\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_print(c, f);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "t0k"));
	ck_assert_ptr_null(strstr(buf, "k3y"));
	ck_assert_ptr_nonnull(strstr(buf, "\"Authorization\": <redacted>\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\"content-type\": \"text/plain\"\n"));
	free(buf);
	buf = conf_printed(c);
	ck_assert_ptr_nonnull(strstr(buf, "\"Bearer t0k\""));
	free(buf);
	conf_free(c);
}
END_TEST

START_TEST(net_sink_round_trip)
{
	char *p =
	    round_trip(SRC "sinks:\n"
			   "  - {name: t, type: tcp, address: \"h:1\", timeout: 3s, backoff: 1s}\n"
			   "  - {name: u, type: unix, path: /s.sock}\n"
			   "  - {name: e, type: exec, argv: [sh, -c, \"cat >/dev/null\"]}\n"
			   "  - name: h\n"
			   "    type: http\n"
			   "    url: \"http://[::1]:81/p\"\n"
			   "    method: PATCH\n"
			   "    headers: {A: \"x\\\"y\"}\n"
			   "    batch: {max_items: 10}\n");
	ck_assert_ptr_nonnull(strstr(p, "    address: \"h:1\"\n    timeout: 3s\n    backoff: 1s\n"
					"    max_backoff: 10s\n"));
	ck_assert_ptr_nonnull(strstr(p, "    method: PATCH\n    url: \"http://[::1]:81/p\"\n"
					"    headers:\n      \"A\": \"x\\\"y\"\n    timeout: 30s\n"
					"    batch:\n      max_items: 10\n      max_bytes: 1MiB\n"
					"      timeout: 1s\n"));
	free(p);
}
END_TEST

START_TEST(address_parsers)
{
	char host[64];
	unsigned port = 0;
	const char *path, *why;

	ck_assert_int_eq(conf_parse_hostport("127.0.0.1:7000", host, sizeof(host), &port, &why), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 7000);
	ck_assert_int_eq(conf_parse_hostport("[::1]:1", host, sizeof(host), &port, &why), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 1);
	ck_assert_int_eq(conf_parse_hostport("a.b-c_d:65535", host, sizeof(host), &port, &why), 0);
	ck_assert_int_eq(conf_parse_hostport("a:0080", host, sizeof(host), &port, &why), 0);
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(conf_parse_hostport("a:123456", host, sizeof(host), &port, &why), -1);
	ck_assert_int_eq(conf_parse_hostport("a b:1", host, sizeof(host), &port, &why), -1);
	ck_assert_int_eq(conf_parse_hostport("[::1]80", host, sizeof(host), &port, &why), -1);
	ck_assert_str_eq(why, "expected ':PORT' after the ']'");
	ck_assert_int_eq(conf_parse_hostport("a:", host, sizeof(host), &port, &why), -1);

	ck_assert_int_eq(conf_parse_url("http://h", host, sizeof(host), &port, &path, &why), 0);
	ck_assert_str_eq(host, "h");
	ck_assert_uint_eq(port, 80);
	ck_assert_str_eq(path, "/");
	ck_assert_int_eq(
	    conf_parse_url("HTTP://10.0.0.1:8080/a/b?c=d", host, sizeof(host), &port, &path, &why),
	    0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 8080);
	ck_assert_str_eq(path, "/a/b?c=d");
	ck_assert_int_eq(conf_parse_url("http://[::1]/x", host, sizeof(host), &port, &path, &why),
			 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(conf_parse_url("http://[::1]:81", host, sizeof(host), &port, &path, &why),
			 0);
	ck_assert_uint_eq(port, 81);
	ck_assert_int_eq(conf_parse_url("https://h/", host, sizeof(host), &port, &path, &why), 0);
	ck_assert_uint_eq(port, 443);
	ck_assert(conf_url_is_https("HTTPS://h/"));
	ck_assert(!conf_url_is_https("http://h/"));
	ck_assert_int_eq(conf_parse_url("https://h:8443/p", host, sizeof(host), &port, &path, &why),
			 0);
	ck_assert_uint_eq(port, 8443);
	ck_assert_str_eq(path, "/p");
	ck_assert_int_eq(conf_parse_url("ftp://h/", host, sizeof(host), &port, &path, &why), -1);
	ck_assert_str_eq(why, "expected an http:// or https:// URL");
	ck_assert_int_eq(conf_parse_url("http:///x", host, sizeof(host), &port, &path, &why), -1);
	ck_assert_int_eq(conf_parse_url("http://u@h/", host, sizeof(host), &port, &path, &why), -1);
	ck_assert_int_eq(conf_parse_url("http://h:0/", host, sizeof(host), &port, &path, &why), -1);
}
END_TEST

/* --- helpers ----------------------------------------------------------------------- */

START_TEST(edit_distance)
{
	ck_assert_uint_eq(conf_edit_distance("", ""), 0);
	ck_assert_uint_eq(conf_edit_distance("abc", "abc"), 0);
	ck_assert_uint_eq(conf_edit_distance("", "abc"), 3);
	ck_assert_uint_eq(conf_edit_distance("abc", ""), 3);
	ck_assert_uint_eq(conf_edit_distance("kitten", "sitting"), 3);
	ck_assert_uint_eq(conf_edit_distance("flaw", "lawn"), 2);
	ck_assert_uint_eq(conf_edit_distance("wrokers", "workers"), 2);
	ck_assert_uint_eq(conf_edit_distance("fil", "file"), 1);
	ck_assert_uint_eq(conf_edit_distance("a", "b"), 1);
	ck_assert_uint_eq(conf_edit_distance("intention", "execution"), 5);
}
END_TEST

/* --- a kind of one file: its rows in a struct of its own (opts) ---------------------- */

struct probe_opts {
	char *host;
	uint64_t port;
	uint64_t wait;
	char **argv;
	size_t argc;
};

#define PROBE(field) offsetof(struct probe_opts, field)
static const struct conf_key probe_rows[] = {
    {"host", CT_STR, CF_NONEMPTY, .off = PROBE(host), .required = CONF_ALL_KINDS,
     .doc = "Where to probe."},
    {"port", CT_UINT, .off = PROBE(port), .def = "6379", .min = 1, .max = 65535,
     .doc = "Its port."},
    {"wait", CT_DURATION, CF_LIVE, .off = PROBE(wait), .def = "1s", .doc = "Between probes."},
    {"argv", CT_ARGV, .off = PROBE(argv), .aux = PROBE(argc), .doc = "A command."},
};

static void probe_check(struct conf_ctx *x, void *entry)
{
	const struct probe_opts *o = ((struct conf_source *)entry)->opts;
	if (o->port == 7)
		conf_err(x, conf_val_of(x, "port") ? conf_val_of(x, "port") : x->map,
			 "'port' of %s must not be 7", x->label);
}

static const struct conf_kind probe_kind = {
    .name = "probe",
    CONF_ROWS(&probe_rows[0], &probe_rows[1], &probe_rows[2], &probe_rows[3]),
    .opts_size = sizeof(struct probe_opts),
    .check = probe_check,
};

/* The daemon's kinds it registers beside its own (kinds.c declares them likewise). */
extern const struct source_kind source_file, source_stdin;
extern const struct worker_kind work_exec;
extern const struct sink_kind sink_stdout;

static const struct conf_kind *const probe_sources[] = {&source_file.conf, &source_stdin.conf,
							&probe_kind};
static const struct conf_kind *const probe_workers[] = {&work_exec.conf};
static const struct conf_kind *const probe_sinks[] = {&sink_stdout.conf};
static const struct conf_kinds probe_registry = {
    .sources = probe_sources,
    .n_sources = ARRAY_LEN(probe_sources),
    .workers = probe_workers,
    .n_workers = ARRAY_LEN(probe_workers),
    .sinks = probe_sinks,
    .n_sinks = ARRAY_LEN(probe_sinks),
};

#define PROBE_SRC(extra) "sources:\n  - name: p\n    type: probe\n    host: h\n" extra SINK

START_TEST(kind_with_opts)
{
	char diff[200] = "";

	test_registry = &probe_registry;
	struct conf *c = load_ok(PROBE_SRC("    argv: [x, y]\n"));
	const struct probe_opts *o = c->sources[0].opts;
	ck_assert_str_eq(conf_kind_name(c->sources[0].kind), "probe");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(o->host, "h");
	ck_assert_uint_eq(o->port, 6379); /* the row's default, in the kind's struct */
	ck_assert_uint_eq(o->wait, SEC);
	ck_assert_uint_eq(o->argc, 2);
	ck_assert_ptr_null(c->sources[0].argv); /* the entry's own fields are untouched */
	char *p = print_conf(c);
	ck_assert_msg(strstr(p,
			     "  - name: \"p\"\n    type: probe\n    host: \"h\"\n    port: 6379\n"
			     "    wait: 1s\n    argv: [\"x\", \"y\"]\n") != NULL,
		      "printed: %s", p);
	free(p);
	free(round_trip(PROBE_SRC("    port: 80\n")));
	conf_free(c);

	/* Reload: a live key of the kind is copied, another one is a change of structure. */
	struct conf *cur = load_ok(PROBE_SRC("")), *next = load_ok(PROBE_SRC("    wait: 5s\n"));
	ck_assert(!conf_structure_differs(cur, next, diff, sizeof(diff)));
	conf_apply_live(cur, next);
	ck_assert_uint_eq(((struct probe_opts *)cur->sources[0].opts)->wait, 5 * SEC);
	conf_free(next);
	next = load_ok(PROBE_SRC("    port: 80\n"));
	ck_assert(conf_structure_differs(cur, next, diff, sizeof(diff)));
	ck_assert_str_eq(diff, "'sources[0].port' changed");
	conf_free(next);
	conf_free(cur);

	/* Its keys and rules: the messages of every kind. */
	expect_errors("sources:\n  - name: p\n    type: probe\n    prot: 1\n" SINK,
		      "job.yaml:2:5: source 'p' (type probe) needs 'host'\n"
		      "job.yaml:4:5: unknown key 'prot' in source 'p'; did you mean 'port'?\n");
	expect_errors("sources:\n  - name: f\n    type: stdin\n    host: h\n" SINK,
		      "job.yaml:4:5: 'host' does not apply to a stdin source (only to probe)\n");
	expect_errors(PROBE_SRC("    port: 7\n"),
		      "job.yaml:5:11: 'port' of source 'p' must not be 7\n");
	expect_errors("sources:\n  - name: p\n    type: redis\n" SINK,
		      "job.yaml:3:11: 'type' must be one of file, stdin, probe; got 'redis'\n");
	test_registry = NULL;
}
END_TEST

START_TEST(enum_names)
{
	ck_assert_str_eq(conf_kind_name(NULL), "?");
	ck_assert_str_eq(conf_on_failure_name(ON_FAILURE_SKIP), "skip");
	ck_assert_str_eq(conf_on_failure_name(ON_FAILURE_DEAD_LETTER), "dead_letter");
	ck_assert_str_eq(conf_on_failure_name(ON_FAILURE_CANCEL), "cancel");
}
END_TEST

START_TEST(free_null)
{
	conf_free(NULL);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, defaults_filled);
	tcase_add_test(tc, stage_defaults_and_queue_inheritance);
	tcase_add_test(tc, source_defaults);
	tcase_add_test(tc, full_example);
	tcase_add_test(tc, name_from_file_name);
	tcase_add_test(tc, name_from_bad_file_name);
	tcase_add_test(tc, spool_from_state_directory);
	tcase_add_test(tc, empty_stage_lists);
	tcase_add_test(tc, scalars);
	tcase_add_test(tc, aliases);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, dead_letter_stdout);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, missing_file_is_noinput);
	tcase_add_test(tc, directory_is_noinput);
	tcase_add_test(tc, not_yaml);
	tcase_add_test(tc, error_at_end_without_newline);
	tcase_add_test(tc, not_utf8);
	tcase_add_test(tc, empty_and_non_mapping);
	tcase_add_test(tc, second_document);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, unknown_key_did_you_mean);
	tcase_add_test(tc, unknown_key_no_suggestion);
	tcase_add_test(tc, unknown_key_is_escaped);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, complex_key);
	tcase_add_test(tc, http_stage);
	tcase_add_test(tc, http_stage_errors);
	tcase_add_test(tc, structured_concurrency_keys);
	tcase_add_test(tc, structured_concurrency_errors);
	tcase_add_test(tc, keys_of_other_kinds);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, enum_did_you_mean);
	tcase_add_test(tc, bad_durations);
	tcase_add_test(tc, bad_sizes);
	tcase_add_test(tc, bad_integers);
	tcase_add_test(tc, bad_booleans);
	tcase_add_test(tc, bad_strings);
	tcase_add_test(tc, bad_mappings_and_lists);
	tcase_add_test(tc, missing_sources_and_sinks);
	tcase_add_test(tc, missing_required_keys);
	tcase_add_test(tc, exec_and_builtin);
	tcase_add_test(tc, bad_argv);
	tcase_add_test(tc, bad_env);
	tcase_add_test(tc, bad_pattern);
	tcase_add_test(tc, bad_names);
	tcase_add_test(tc, long_names);
	tcase_add_test(tc, duplicate_names);
	tcase_add_test(tc, dead_letter_required);
	tcase_add_test(tc, all_errors_in_file_order);
	tcase_add_test(tc, too_many_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("net");
	tcase_add_test(tc, net_source_defaults);
	tcase_add_test(tc, net_source_keys);
	tcase_add_test(tc, net_source_errors);
	tcase_add_test(tc, service_value_errors);
	tcase_add_test(tc, net_source_round_trip);
	tcase_add_test(tc, net_sink_defaults);
	tcase_add_test(tc, net_sink_keys);
	tcase_add_test(tc, net_sink_errors);
	tcase_add_test(tc, net_sink_round_trip);
	tcase_add_test(tc, check_print_redacts_headers);
	tcase_add_test(tc, address_parsers);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_test(tc, print_minimal);
	tcase_add_test(tc, print_round_trip_full);
	tcase_add_test(tc, print_round_trip_strings);
	tcase_add_test(tc, reload_live_keys);
	tcase_add_test(tc, edit_distance);
	tcase_add_test(tc, tls_block);
	tcase_add_test(tc, enum_names);
	tcase_add_test(tc, kind_with_opts);
	tcase_add_test(tc, free_null);
	suite_add_tcase(s, tc);
	return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	char dir[] = "/tmp/sluice-test-conf-XXXXXX";
	SRunner *sr;
	int failed;

	/* Relative file names keep the expected messages short: "job.yaml:3:5: ...". */
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror(dir);
		return EXIT_FAILURE;
	}
	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (chdir("/") == 0)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
