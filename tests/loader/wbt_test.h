/* SPDX-License-Identifier: GPL-2.0 */
/* Tiny test harness for the loader's pure parts: CHECK() counts, never aborts. */
#ifndef WBT_TEST_H
#define WBT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int wbt_passed, wbt_failed;

#define CHECK(cond) do {							\
		if (cond) {							\
			wbt_passed++;						\
		} else {							\
			wbt_failed++;						\
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}								\
	} while (0)

#define CHECK_EQ_U(a, b) do {							\
		unsigned long long _a = (a), _b = (b);				\
		if (_a == _b) {							\
			wbt_passed++;						\
		} else {							\
			wbt_failed++;						\
			fprintf(stderr, "FAIL %s:%d: %s == %s (%llu != %llu)\n",	\
				__FILE__, __LINE__, #a, #b, _a, _b);		\
		}								\
	} while (0)

#define CHECK_STR(a, b) do {							\
		const char *_a = (a), *_b = (b);				\
		if (_a && _b && !strcmp(_a, _b)) {				\
			wbt_passed++;						\
		} else {							\
			wbt_failed++;						\
			fprintf(stderr, "FAIL %s:%d: %s == \"%s\" (got \"%s\")\n",	\
				__FILE__, __LINE__, #a, _b ? _b : "(null)",	\
				_a ? _a : "(null)");				\
		}								\
	} while (0)

/* Substring checks on generated text. */
#define HAS(s, sub) CHECK(strstr((s), (sub)) != NULL)
#define HASNT(s, sub) CHECK(strstr((s), (sub)) == NULL)

struct wb_event;
/* One event as its events.jsonl line (malloc'ed; test_output.c). */
char *wbt_event_jsonl(const struct wb_event *e);

/* Event e's events.jsonl line holds sub (a failure names the caller's line). */
#define JSONL_HAS(e, sub) do {							\
		char *_line = wbt_event_jsonl(e);				\
		HAS(_line, sub);						\
		free(_line);							\
	} while (0)

/*
 * One JSON object written by the code under test, as text (test_output.c):
 * wbt_json_open() starts it and gives the writer to pass on, wbt_json_close()
 * ends it and returns the malloc'ed text.
 */
struct wb_json;
struct wbt_json_text {
	char *text;
	size_t len;
	void *f;
};
struct wb_json *wbt_json_open(struct wbt_json_text *t, struct wb_json *j);
char *wbt_json_close(struct wbt_json_text *t, struct wb_json *j);

void test_hist(void);
void test_json(void);
void test_args(void);
void test_util(void);
void test_sysinfo(void);
void test_output(void);
void test_probes_table(void);
void test_preflight(void);
void test_passes(void);
void test_bio_ends(void);

#endif
