/*
 * version.h: sluice's version, written here only. sluiced -V and sluicectl -V
 * print it; the Makefile reads it (make dist, the man pages' footer at make
 * install); debian/changelog's first entry must name it (test_packaging checks).
 */
#ifndef SLUICE_VERSION_H
#define SLUICE_VERSION_H

#define SLUICE_VERSION "0.1.0"

#endif
