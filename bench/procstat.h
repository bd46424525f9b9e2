/*
 * Readers of /proc for the benchmarks: CPU time and memory of another
 * process (the broker, the external tracker) and the size of a database
 * with its write-ahead log.
 */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <stdint.h>

/* Returns user plus system CPU seconds of `pid`, or -1 when it cannot be
 * read (no such process, or /proc not mounted). With `system` not NULL,
 * also stores the system (kernel) part there. */
double procstat_cpu_seconds(int pid, double *system);

/* Returns the value in KiB of a field of /proc/PID/status such as "VmHWM"
 * (peak resident set size) or "VmRSS", or -1 when it cannot be read. */
long procstat_status_kib(int pid, const char *field);

/* Returns the CPU seconds all processors have been busy since boot, from
 * the first line of /proc/stat (everything but idle and iowait), or -1. */
double procstat_machine_busy_seconds(void);

/* Returns the CPU seconds this process has used so far. */
double procstat_self_cpu_seconds(void);

/* Returns the bytes of `path` plus `path`-wal, or -1 when `path` is
 * missing. */
int64_t procstat_db_bytes(const char *path);

#endif
