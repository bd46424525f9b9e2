/*
 * Set-up shared by the libFuzzer targets: a tracker on a real SQLite store
 * in a temporary folder, with I/O that discards what the tracker publishes
 * and logs. The folder is removed at exit.
 */
#ifndef OTA_FUZZ_COMMON_H
#define OTA_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "ota_tracker.h"

/* Sets the options of the tracker, "key", "value" pairs ending in NULL,
 * applied on top of the defaults and a database in a temporary folder. */
void fuzz_tracker_options(const char *const *options);

/* Returns the tracker for the next input. Every FUZZ_RESET_INPUTS inputs
 * it starts over on a new empty database, so that the database stays
 * small in runs of hours. Aborts when the tracker cannot be created,
 * since no input could run without it. */
struct ota_tracker *fuzz_tracker(void);

#define FUZZ_RESET_INPUTS 20000

/* Aborts with `reason` on stderr: an input broke a property the plugin
 * promises, and libFuzzer saves that input as a crash. */
void fuzz_fail(const char *reason);

#endif
