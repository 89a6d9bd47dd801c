/*
 * kinds.h: every kind of source, stage worker and sink, handed to the loader. Call
 * kinds_register() once before conf_load (sluiced, sluicectl, tests, fuzz targets).
 */
#ifndef SLUICE_KINDS_H
#define SLUICE_KINDS_H

void kinds_register(void);

#endif
