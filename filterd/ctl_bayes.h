/*
 * filterd/ctl_bayes.h - helpers shared by filterctl learn, filterctl bayes
 * and the Bayes check (entry points ctl_learn/ctl_bayes are in ctl.h)
 *
 * Both subcommands parse their own options (-c FILE, --store SPEC) and
 * open the Bayes store named by the config (bayes_store, bayes_path) or
 * --store.
 */
#ifndef FILTERD_CTL_BAYES_H
#define FILTERD_CTL_BAYES_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;

/* ctl_bayes_spec - the store spec the config names: "redis://..." as is,
 * "bdb" -> bayes_path, or state_dir/bayes when bayes_path is empty */
int ctl_bayes_spec(const struct cfg *, char *out, size_t outsz);

/* One message from a mail source: name is "path" or "path:N" (mbox). */
typedef int ctl_msg_fn(
    void *arg, const char *name, const unsigned char *raw, size_t len);
/* ctl_foreach_msg - every message of path: "-" (stdin, one message), a
 * maildir (cur/ and new/), an MH folder or a plain directory of files
 * (sorted, numeric names numerically), an mbox (From_ lines) or a file
 * holding one message. Unreadable entries count in *nbad and are
 * skipped; fn returning < 0 stops the walk with that code. */
int ctl_foreach_msg(const char *path, ctl_msg_fn *fn, void *arg, size_t *nbad);
/* ctl_count_msgs - how many messages ctl_foreach_msg will visit (for the
 * progress bar; mbox files are scanned for From_ lines) */
size_t ctl_count_msgs(const char *path);

#endif
