/*
 * filterd/ctl.h - filterctl subcommands, each in filterd/ctl_<name>.c
 *
 * A subcommand is `int ctl_<name>(int argc, char **argv)` with argv[0] the
 * subcommand name; it returns the process exit status. Add its prototype
 * here and one row to ctl_cmds[] in filterd/filterctl.c.
 */
#ifndef FILTERD_CTL_H
#define FILTERD_CTL_H

#include <stdbool.h>

struct cfg;

int ctl_check(int argc, char **argv);  /* filterd/ctl_check.c */
int ctl_lint(int argc, char **argv);   /* filterd/ctl_lint.c */
int ctl_compile(int argc, char **argv); /* filterd/ctl_compile.c */
int ctl_learn(int argc, char **argv);  /* filterd/ctl_learn.c */
int ctl_bayes(int argc, char **argv);  /* filterd/ctl_bayes.c */
int ctl_tune(int argc, char **argv);   /* filterd/ctl_tune.c */
int ctl_explain(int argc, char **argv); /* filterd/ctl_explain.c */
int ctl_dkim_keygen(int argc, char **argv); /* filterd/ctl_dkim.c */
int ctl_dkim_sign(int argc, char **argv);   /* filterd/ctl_dkim.c */
int ctl_arc_seal(int argc, char **argv);    /* filterd/ctl_dkim.c */
int ctl_check_domain(int argc, char **argv); /* filterd/ctl_domain.c */
int ctl_dmarc_report(int argc, char **argv); /* filterd/ctl_dmarc.c */
int ctl_quarantine(int argc, char **argv); /* filterd/ctl_quarantine.c */
int ctl_status(int argc, char **argv);     /* filterd/ctl_status.c */

/* ctl_load_cfg - the config named by -c (or FILTERD_CONF, else
 * etc/filterd.conf when it exists, else /etc/filterd/filterd.conf);
 * NULL after printing the error. */
struct cfg *ctl_load_cfg(const char *path);
/* ctl_help - argv[1] is --help or -h: the command prints its usage on
 * stdout and exits 0 (on a usage error it goes to stderr with 2) */
bool ctl_help(int argc, char **argv);
/* ctl_read_file - whole file (or "-" = stdin) into malloc'd memory */
unsigned char *ctl_read_file(const char *path, size_t *len);

#endif
