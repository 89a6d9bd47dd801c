/*
 * crc32c.h: CRC-32C (Castagnoli, the checksum of iSCSI, ext4 metadata and Vector's
 * disk buffers), which frames the journal's records. Chosen over CRC-32 for its
 * better error detection on the short bursts a torn write leaves.
 */
#ifndef SLUICE_CRC32C_H
#define SLUICE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start) over len bytes at p: crc32c(crc32c(0, a), b) == crc32c(0, ab). */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

#endif
