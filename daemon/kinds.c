/*
 * kinds.c: the registry of every kind of source, stage worker and sink, one line
 * each. The loader gets it through conf_set_kinds() (it never names a kind); the
 * kinds layer finds a conf entry's operations from the conf_kind it points at, the
 * first member of the kind's descriptor. A new kind is its own file and a line here.
 *
 * Each list names the descriptors (defined in the kinds' files) in the order the
 * kinds are listed in messages ("one of file, stdin, ..."); it declares them too.
 */
#include "kinds.h"

#include "conf-schema.h"
#include "sink.h"
#include "source.h"
#include "stage.h"
#include "util.h"

#define SOURCES(X)                                                                                 \
	X(source_file)                                                                             \
	X(source_stdin)                                                                            \
	X(source_exec)                                                                             \
	X(source_generate)                                                                         \
	X(source_tcp)                                                                              \
	X(source_unix)                                                                             \
	X(source_http)                                                                             \
	X(source_dir)                                                                              \
	X(source_redis_stream)

#define WORKERS(X)                                                                                 \
	X(work_exec)                                                                               \
	X(work_builtin)                                                                            \
	X(work_coproc)                                                                             \
	X(work_http)

#define SINKS(X)                                                                                   \
	X(sink_file)                                                                               \
	X(sink_stdout)                                                                             \
	X(sink_discard)                                                                            \
	X(sink_tcp)                                                                                \
	X(sink_unix)                                                                               \
	X(sink_exec)                                                                               \
	X(sink_http)                                                                               \
	X(sink_redis_stream)

#define DECLARE_SOURCE(k) extern const struct source_kind k;
#define DECLARE_WORKER(k) extern const struct worker_kind k;
#define DECLARE_SINK(k)	  extern const struct sink_kind k;
#define ENTRY(k)	  &k.conf,

SOURCES(DECLARE_SOURCE)
WORKERS(DECLARE_WORKER)
SINKS(DECLARE_SINK)

static const struct conf_kind *const sources[] = {SOURCES(ENTRY)};
static const struct conf_kind *const workers[] = {WORKERS(ENTRY)};
static const struct conf_kind *const sinks[] = {SINKS(ENTRY)};

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
