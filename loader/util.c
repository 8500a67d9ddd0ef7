// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "util.h"

const char *wb_exit_name(int code)
{
	switch (code) {
#define WB_X(name, val, what) case val: return #name;
	WB_EXIT_CODES(WB_X)
#undef WB_X
	}
	return "?";
}

int wb_vec_push(struct wb_vec *vec, uint64_t x)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 1024;
		uint64_t *nv = realloc(vec->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		vec->v = nv;
		vec->cap = cap;
	}
	vec->v[vec->n++] = x;
	return 0;
}

void wb_vec_free(struct wb_vec *vec)
{
	free(vec->v);
	vec->v = NULL;
	vec->n = vec->cap = 0;
}

int wb_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int wb_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int wb_parse_duration_ns(const char *s, uint64_t *out)
{
	char num[64], *end;
	double v, mult = 1e9;
	size_t n;

	if (!s || !*s || strlen(s) >= sizeof(num))
		return -1;
	strcpy(num, s);
	n = strlen(num);
	if (n > 2 && !strcmp(num + n - 2, "ms")) {
		mult = 1e6;
		num[n - 2] = 0;
	} else if (n > 2 && !strcmp(num + n - 2, "us")) {
		mult = 1e3;
		num[n - 2] = 0;
	} else if (n > 1 && num[n - 1] == 's') {
		num[n - 1] = 0;
	} else if (n > 1 && num[n - 1] == 'm') {
		mult = 60e9;
		num[n - 1] = 0;
	} else if (n > 1 && num[n - 1] == 'h') {
		mult = 3600e9;
		num[n - 1] = 0;
	}
	if (!num[0] || isspace((unsigned char)num[0]) || num[0] == '-')
		return -1;
	errno = 0;
	v = strtod(num, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v * mult > 1e18)
		return -1;
	*out = (uint64_t)(v * mult + 0.5);
	return *out ? 0 : -1;
}

int wb_parse_size_mib(const char *s, uint64_t *out)
{
	char num[64], *end;
	unsigned long long v;
	uint64_t mult = 1ULL << 20;
	size_t n;

	if (!s || !*s || strlen(s) >= sizeof(num) || *s == '-')
		return -1;
	strcpy(num, s);
	n = strlen(num);
	if (n > 3 && !strcasecmp(num + n - 3, "iib"))
		return -1;
	if (n > 3 && (!strcasecmp(num + n - 3, "kib") || !strcasecmp(num + n - 3, "mib"))) {
		mult = tolower((unsigned char)num[n - 3]) == 'k' ? 1ULL << 10 : 1ULL << 20;
		num[n - 3] = 0;
	} else if (n > 1 && strchr("kKmM", num[n - 1])) {
		mult = tolower((unsigned char)num[n - 1]) == 'k' ? 1ULL << 10 : 1ULL << 20;
		num[n - 1] = 0;
	}
	if (!num[0] || !isdigit((unsigned char)num[0]))
		return -1;
	errno = 0;
	v = strtoull(num, &end, 10);
	if (errno || *end || v == 0 || v > (1ULL << 40) / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int wb_parse_majmin(const char *s, uint32_t *out)
{
	unsigned int maj, min;
	char tail;

	if (!s || sscanf(s, "%u:%u%c", &maj, &min, &tail) != 2)
		return -1;
	if (maj >= (1u << 12) || min >= (1u << 20))
		return -1;
	*out = (maj << 20) | min;
	return 0;
}

bool wb_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

int wb_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return (int)n;
}
