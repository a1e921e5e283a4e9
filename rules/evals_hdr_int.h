/*
 * rules/evals_hdr_int.h - what evals_hdr.c shares with evals_freemail.c
 * (inside rules/ only): its regex table (compiled once per process) and
 * SA's get(), the envelope sender and the per-message state
 */
#ifndef RULES_EVALS_HDR_INT_H
#define RULES_EVALS_HDR_INT_H

#include "rules/rules_int.h"

enum rx_id {
	RX_RCVD_DATE,
	RX_OUTLOOK_ID,
	RX_FETCH_LOCAL,
	RX_FETCH_QMAIL,
	RX_FETCHMAIL,
	RX_IP_ADDRESS,
	RX_IS_IPV4,
	RX_EZMLM_LIST,
	RX_EZMLM_DLTO,
	RX_EZMLM_RCVD,
	RX_MSN_GROUPS_RCVD,
	RX_MSN_TO,
	RX_MSN_PICKUP,
	RX_HM_PICKUP,
	RX_HM_1,
	RX_HM_2,
	RX_HM_3,
	RX_HM_4,
	RX_HM_5,
	RX_HM_6,
	RX_HM_FORGED,
	RX_HM_ORIGINATOR,
	RX_YH_WEB,
	RX_YH_SONIC,
	RX_YH_SMTP,
	RX_YH_NNFMP,
	RX_YH_BULK,
	RX_YH_REPLY,
	RX_YH_STORY,
	RX_JUNO_RCVD,
	RX_JUNO_COOKIE,
	RX_JUNO_MAILCOM,
	RX_JUNO_XM_MAILCOM,
	RX_JUNO_WEBMAIL,
	RX_JUNO_XM_WEBMAIL,
	RX_GM_XRCVD_1,
	RX_GM_XRCVD_2,
	RX_GM_RCVD,
	RX_EUDORA_BY,
	RX_AOL_RLY,
	RX_AOL_VIA,
	RX_AOL_ID,
	RX_RATWARE_MID,
	RX_DOTCOM_HELO,
	RX_FQDN,
	RX_FM_WELCOME,
	RX_FM_SKIP_ENVFROM,
	RX_FM_EMAIL,
	RX_FM_STRIP_URL,
	RX_FM_STRIP_EMAIL,
	RX_N
};

struct rule__hdr_state {
	pcre2_match_data *md;
	/* check_for_shifted_date */
	bool date_done;
	double date_diff;
	/* _check_for_forged_hotmail_received_headers: -1 not yet */
	int hotmail;
	/* _check_recipients */
	bool recips_done, sorted;
	double similar;
	/* FreeMail _parse_body: the body's freemail addresses */
	bool fm_body_done, fm_skip_body;
	struct bstr *fm_body;
	size_t nfm_body;
	/* get_envelope_from */
	bool envfrom_done;
	struct bstr envfrom;
};

/* the message's state, allocated on first use (NULL: out of memory) */
struct rule__hdr_state *rule__eh_state(struct rule_ctx *c);
/* regex id on s from off: true on a match, *ov its offsets */
bool rule__eh_rx_match(struct rule_ctx *c, enum rx_id id, struct bstr s,
    size_t off, PCRE2_SIZE **ov);
/* group g of a match of s (empty when unset) */
struct bstr rule__eh_rx_group(const PCRE2_SIZE *ov, struct bstr s, int g);
/* SA's $pms->get(name) in scalar context (see evals_hdr.c) */
struct bstr rule__eh_get(struct rule_ctx *c, const char *name);
/* Perl's \w for one byte */
bool rule__eh_is_word(unsigned char ch);
/* regex id matches somewhere in s */
bool rule__eh_match(struct rule_ctx *c, enum rx_id id, struct bstr s);
/* SA's get_envelope_from (relays first, then the headers) */
struct bstr rule__eh_envfrom(struct rule_ctx *c);
/* s lowercased, in the message arena */
struct bstr rule__eh_lc(struct rule_ctx *c, struct bstr s);

#endif
