/*
 * Non-fatal checks for table-driven cmocka tests. A failed CHECK prints the
 * file, the line and a message naming the case, and the table goes on, so
 * one run lists every failing case. assert_checks_passed() then fails the
 * test. Include this header after <cmocka.h>.
 */
#ifndef OTA_TEST_CHECK_H
#define OTA_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int check_failures;

__attribute__((format(printf, 4, 5)))
static inline void check_that(bool ok, const char *file, int line, const char *fmt, ...)
{
	char text[2048];
	va_list args;

	if(ok){
		return;
	}
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	print_error("%s:%d: %s\n", file, line, text);
	check_failures++;
}

#define CHECK(ok, ...) check_that((ok), __FILE__, __LINE__, __VA_ARGS__)

/* Clears the count left by a test that stopped at a fatal assertion. */
static inline int checks_reset(void **state)
{
	(void)state;
	check_failures = 0;
	return 0;
}

/* A cmocka test entry whose counter starts at zero. */
#define table_test(f) cmocka_unit_test_setup(f, checks_reset)

#define assert_checks_passed() \
	do { \
		int failed_checks = check_failures; \
		check_failures = 0; \
		assert_int_equal(failed_checks, 0); \
	} while(0)

#endif
