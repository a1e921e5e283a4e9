/* mail_html_test - HTML rendering and facts, URIs from text and HTML */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mail/msg.h"

static struct msg *
html_msg(const char *html)
{
	static char raw[16384];
	struct msg *m = NULL;
	int n = snprintf(raw, sizeof(raw), "Subject: s\nContent-Type: "
	    "text/html; charset=utf-8\n\n%s", html);

	assert_int_equal(msg_parse((unsigned char *)raw, (size_t)n, NULL, &m),
	    0);
	return m;
}

static struct bstr
rendered(const struct msg *m)
{
	return msg_part_at(m, 0)->rendered;
}

struct render_case {
	const char *html, *want;
};

static const struct render_case render_cases[] = {
	{ "a<br>b", "a\nb" },
	{ "<p>one</p><p>two</p>", "\n\none\n\n\n\ntwo\n\n" },
	{ "x <b>bold</b> y", "x bold y" },
	{ "a  \n\t b", "a b" },
	{ "<td>c1</td><td>c2</td>", " c1  c2 " }, /* as SA: no merge */
	/* entities: named, numeric, hex, no semicolon, unknown */
	{ "&lt;tag&gt; &amp; &eacute;&#233;&#xE9; &amp &bogus;",
	    "<tag> & \xc3\xa9\xc3\xa9\xc3\xa9 & &bogus;" },
	{ "&#150;", "\xe2\x80\x93" },  /* windows-1252, as browsers */
	/* script and style are not text; comments are dropped */
	{ "a<script>var x='<b>';</script>b<style>p{}</style>c<!-- hid -->d",
	    "abcd" },
	/* broken markup: unclosed comment, stray '<', unclosed tag */
	{ "x < y <!-- never closed", "x < y " },
	{ "a<b", "a" },
	{ "a<img src=x.gif", "a" },
	{ "1 &nbsp; 2", "1 2" },
	{ "<title>T</title>body", "\n\nT\n\nbody" },
	{ "<div>x</div>y", "\nx\ny" },
};

static void
test_render(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]);
	    i++) {
		struct msg *m = html_msg(render_cases[i].html);
		struct bstr r = rendered(m);

		if (r.len != strlen(render_cases[i].want) ||
		    memcmp(r.p, render_cases[i].want, r.len))
			fail_msg("case %zu: \"%.*s\"", i, (int)r.len, r.p);
		msg_free(m);
	}
}

static void
test_facts(void **state)
{
	(void)state;
	struct msg *m = html_msg(
	    "<html><head><title>t</title>"
	    "<meta http-equiv=\"Content-Type\" content=\"text/html; "
	    "charset=iso-8859-1\"></head>"
	    "<body bgcolor=\"#ffffff\">"
	    "<font color=\"#ffffff\">hidden words</font>"
	    "<font color=red>shown</font>"
	    "<span style=\"display:none\">gone</span>"
	    "<div style=\"font-size:1px\">tiny</div>"
	    "<img src=\"http://img.example.com/a.gif\" width=10 height=20>"
	    "<img src=cid:x width=5 height=5>"
	    "<a href=\"http://evil.example.net/login\">http://www.paypal.com/"
	    "</a>"
	    "<a href=\"http://www.good.co.uk/x\">www.good.co.uk</a>"
	    "<form action=\"http://form.example.org/post\"></form>"
	    "<iframe src=\"http://frame.example.org/\"></iframe>"
	    "<blink>old</blink><zzz>junk</zzz>"
	    "<!-- c1 --><!-- c2 --></body></html>");
	const struct msg_html *h = msg_html(m);

	assert_int_equal(h->parts, 1);
	assert_true(h->has_html_tag && h->has_body_tag && h->has_title);
	assert_int_equal(h->images, 2);
	assert_int_equal(h->image_area, 10 * 20 + 5 * 5);
	assert_int_equal(h->links, 2);
	assert_int_equal(h->forms, 1);
	assert_int_equal(h->iframes, 1);
	assert_int_equal(h->font_tags, 2);
	assert_int_equal(h->font_color_tags, 2);
	assert_int_equal(h->comments, 2);
	assert_int_equal(h->bad_tags, 2); /* zzz open and close */
	assert_int_equal(h->anchor_mismatch, 1);
	assert_true(h->charset_meta_mismatch);
	/* "hidden words", "gone", "tiny" */
	assert_true(h->invisible_bytes >= strlen("hidden wordsgonetiny"));
	assert_true(h->invisible_bytes < strlen("hidden wordsgonetinyshown"));
	assert_true(h->html_bytes > h->text_bytes);

	size_t n;
	const struct msg_uri *u = msg_uris(m, &n);
	bool saw_img = false, saw_form = false, saw_anchor = false;

	for (size_t i = 0; i < n; i++) {
		if (u[i].host.len < 15)
			continue;
		if (u[i].flags & MSG_URI_SRC &&
		    !strncmp((const char *)u[i].host.p, "img.example.com", 15))
			saw_img = true;
		if (u[i].flags & MSG_URI_FORM)
			saw_form = true;
		if ((u[i].flags & MSG_URI_HREF) && u[i].anchor_text.len &&
		    !memcmp(u[i].host.p, "evil.example.net", 16)) {
			saw_anchor = true;
			assert_int_equal(u[i].anchor_text.len,
			    strlen("http://www.paypal.com/"));
		}
	}
	assert_true(saw_img && saw_form && saw_anchor);
	msg_free(m);
}

struct uri_case {
	const char *text;  /* plain-text body */
	const char *uri;   /* expected normalised URI (one of them) */
	const char *host;
};

static const struct uri_case uri_cases[] = {
	{ "see http://Example.COM/path?q=1.", "http://example.com/path?q=1",
	    "example.com" },
	{ "visit www.example.org today", "http://www.example.org",
	    "www.example.org" },
	{ "HTTPS://user:pw@Host.Example:8080/a%41b",
	    "https://host.example:8080/aAb", "host.example" },
	{ "http://1.2.3.4:80/x http://1.2.3.4:81/y", "http://1.2.3.4:81/y",
	    "1.2.3.4" },
	{ "http://1.2.3.4:80/x", "http://1.2.3.4/x", "1.2.3.4" },
	{ "mail me: John.Doe@Example.com!", "mailto:John.Doe@example.com",
	    "example.com" },
	{ "<ftp.example.net/pub>", "ftp://ftp.example.net/pub",
	    "ftp.example.net" },
	/* IDN to punycode (RFC 5891) */
	{ "http://b\xc3\xbc" "cher.example/x", "http://xn--bcher-kva.example/x",
	    "xn--bcher-kva.example" },
	{ "http://%77%77%77.example.com/", "http://www.example.com/",
	    "www.example.com" },
	{ "http://192.168.1.1/x", "http://192.168.1.1/x", "192.168.1.1" },
	{ "(http://paren.example/)", "http://paren.example/",
	    "paren.example" },
};

static void
test_text_uris(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
		char raw[512];
		struct msg *m;
		int len = snprintf(raw, sizeof(raw), "Subject: u\n\n%s\n",
		    uri_cases[i].text);
		size_t n;
		bool found = false;

		assert_int_equal(msg_parse((unsigned char *)raw, (size_t)len,
		    NULL, &m), 0);
		const struct msg_uri *u = msg_uris(m, &n);

		for (size_t k = 0; k < n; k++)
			if (u[k].uri.len == strlen(uri_cases[i].uri) &&
			    !memcmp(u[k].uri.p, uri_cases[i].uri, u[k].uri.len)) {
				found = true;
				assert_int_equal(u[k].host.len,
				    strlen(uri_cases[i].host));
				assert_memory_equal(u[k].host.p,
				    uri_cases[i].host, u[k].host.len);
				assert_true(u[k].flags & MSG_URI_TEXT);
			}
		if (!found) {
			for (size_t k = 0; k < n; k++)
				print_message("  have %.*s\n", (int)u[k].uri.len,
				    u[k].uri.p);
			fail_msg("case %zu: %s not found", i, uri_cases[i].uri);
		}
		msg_free(m);
	}
}

static void
test_html_uris(void **state)
{
	(void)state;
	struct msg *m = html_msg(
	    "<base href=\"http://base.example/dir/\">"
	    "<a href=\"page.html\">rel</a>"
	    "<a href=\"http://a.example/?a=1&amp;b=2\">amp</a>"
	    "<a href=\"mailto:Sales@Shop.Example?subject=hi\">mail</a>"
	    "<meta http-equiv=\"refresh\" content=\"0; URL=http://refresh.example/\">"
	    "<script src=\"http://js.example/s.js\"></script>"
	    "<a href=\"http://dup.example/\">1</a><img src=\"http://dup.example/\">"
	    "<a href=\"http://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80"
	    ".example/\">idn</a>");
	size_t n, nh;
	const struct msg_uri *u = msg_uris(m, &n);
	const struct bstr *h = msg_uri_hosts(m, &nh);
	static const char *const want[] = {
		"http://base.example/dir/page.html",
		"http://a.example/?a=1&b=2",
		"mailto:Sales@shop.example?subject=hi",
		"http://refresh.example/",
		"http://xn--e1afmkfd.example/",
		"http://js.example/s.js",
	};

	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		bool found = false;

		for (size_t k = 0; k < n; k++)
			found |= u[k].uri.len == strlen(want[w]) &&
			    !memcmp(u[k].uri.p, want[w], u[k].uri.len);
		if (!found)
			fail_msg("%s not found", want[w]);
	}
	/* duplicates merge their flags */
	for (size_t k = 0; k < n; k++)
		if (u[k].host.len == 11 && !memcmp(u[k].host.p,
		    "dup.example", 11))
			assert_int_equal(u[k].flags & (MSG_URI_HREF |
			    MSG_URI_SRC), MSG_URI_HREF | MSG_URI_SRC);
	/* hosts are distinct */
	for (size_t i = 0; i < nh; i++)
		for (size_t k = i + 1; k < nh; k++)
			assert_false(h[i].len == h[k].len &&
			    !memcmp(h[i].p, h[k].p, h[i].len));
	msg_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_text_uris),
		cmocka_unit_test(test_html_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
