/*
 * tests/unit/auth_json.h - a small JSON reader for the conformance runners
 * (SPF suite, DMARC cases); header-only, values live in an arena.
 * Strings are decoded (\uXXXX below 0x100 as one byte, above as UTF-8).
 */
#ifndef TESTS_AUTH_JSON_H
#define TESTS_AUTH_JSON_H

#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	double num;
	bool b;
	char *s; /* NUL-terminated; slen bytes */
	size_t slen;
	struct json **v; /* array items / object values */
	char **k;	 /* object keys */
	size_t n;
};

struct json_p {
	const char *p, *end;
	struct arena *a;
};

static inline void
json_ws(struct json_p *j)
{
	while (j->p < j->end && strchr(" \t\r\n", *j->p) && *j->p)
		j->p++;
}

static inline struct json *json_value(struct json_p *j);

static inline char *
json_str(struct json_p *j, size_t *len)
{
	size_t cap = 64, n = 0;
	char *o = malloc(cap), *r;

	j->p++; /* opening quote */
	while (j->p < j->end && *j->p != '"') {
		unsigned c = (unsigned char)*j->p++;
		if (n + 4 >= cap)
			o = realloc(o, cap *= 2);
		if (c == '\\' && j->p < j->end) {
			c = (unsigned char)*j->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				char h[5] = { 0 };
				memcpy(h, j->p, 4);
				j->p += 4;
				c = (unsigned)strtoul(h, NULL, 16);
				if (c >= 0x100) {
					if (c < 0x800) {
						o[n++] =
						    (char)(0xc0 | (c >> 6));
					} else {
						o[n++] =
						    (char)(0xe0 | (c >> 12));
						o[n++] = (char)(0x80 |
						    ((c >> 6) & 63));
					}
					c = 0x80 | (c & 63);
				}
				break;
			}
			}
		}
		o[n++] = (char)c;
	}
	j->p++;
	o[n] = '\0';
	r = arena_memdup(j->a, o, n + 1);
	free(o);
	*len = n;
	return r;
}

static inline struct json *
json_value(struct json_p *j)
{
	struct json *v = arena_calloc(j->a, 1, sizeof(*v));

	json_ws(j);
	if (j->p >= j->end)
		return v;
	if (*j->p == '"') {
		v->type = JSON_STR;
		v->s = json_str(j, &v->slen);
	} else if (*j->p == '[' || *j->p == '{') {
		bool obj = *j->p == '{';
		size_t cap = 0;
		v->type = obj ? JSON_OBJ : JSON_ARR;
		j->p++;
		for (;;) {
			json_ws(j);
			if (j->p >= j->end || *j->p == ']' || *j->p == '}') {
				j->p++;
				break;
			}
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (v->n == cap) {
				size_t nc = cap ? 2 * cap : 8;
				struct json **nv =
				    arena_calloc(j->a, nc, sizeof(*nv));
				char **nk = arena_calloc(j->a, nc, sizeof(*nk));
				if (cap) {
					memcpy(nv, v->v, cap * sizeof(*nv));
					memcpy(nk, v->k, cap * sizeof(*nk));
				}
				v->v = nv;
				v->k = nk;
				cap = nc;
			}
			if (obj) {
				size_t kl;
				v->k[v->n] = json_str(j, &kl);
				json_ws(j);
				j->p++; /* ':' */
			}
			v->v[v->n++] = json_value(j);
		}
	} else if (*j->p == 't' || *j->p == 'f') {
		v->type = JSON_BOOL;
		v->b = *j->p == 't';
		j->p += v->b ? 4 : 5;
	} else if (*j->p == 'n') {
		j->p += 4;
	} else {
		char *e;
		v->type = JSON_NUM;
		v->num = strtod(j->p, &e);
		j->p = e > j->p ? e : j->p + 1;
	}
	return v;
}

static inline struct json *
json_parse(struct arena *a, const char *text, size_t len)
{
	struct json_p j = { text, text + len, a };

	return json_value(&j);
}

static inline struct json *
json_get(const struct json *o, const char *key)
{
	if (o == NULL || o->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->k[i], key) == 0)
			return o->v[i];
	return NULL;
}

static inline const char *
json_sget(const struct json *o, const char *key)
{
	struct json *v = json_get(o, key);

	return v && v->type == JSON_STR ? v->s : NULL;
}

#endif
