/*
 * kinds.c: the registry of every kind of source, stage worker and sink, one line
 * each. The loader gets it through conf_set_kinds() (it never names a kind); the
 * kinds layer finds a conf entry's operations from the conf_kind it points at, the
 * first member of the kind's descriptor. A new kind is its own file and a line here.
 */
#include "kinds.h"

#include "conf-schema.h"
#include "sink.h"
#include "source.h"
#include "stage.h"
#include "util.h"

static const struct conf_kind *const sources[] = {
    &source_file.conf, &source_stdin.conf, &source_exec.conf, &source_generate.conf,
    &source_tcp.conf,  &source_unix.conf,  &source_http.conf, &source_dir.conf,
};

static const struct conf_kind *const workers[] = {
    &work_exec.conf,
    &work_builtin.conf,
    &work_coproc.conf,
    &work_http.conf,
};

static const struct conf_kind *const sinks[] = {
    &sink_file.conf, &sink_stdout.conf, &sink_discard.conf, &sink_tcp.conf,
    &sink_unix.conf, &sink_exec.conf,	&sink_http.conf,
};

static const struct conf_kinds registry = {
    .sources = sources,
    .n_sources = ARRAY_LEN(sources),
    .workers = workers,
    .n_workers = ARRAY_LEN(workers),
    .sinks = sinks,
    .n_sinks = ARRAY_LEN(sinks),
};

void kinds_register(void)
{
	conf_set_kinds(&registry);
}
