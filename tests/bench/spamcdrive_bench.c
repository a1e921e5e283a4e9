/*
 * tests/bench/spamcdrive - runs Debian's spamc once per message, CONC at a
 * time, for tests/bench/spamc.sh
 *
 *   build/bench/spamcdrive -p PORT [-c CONC] [-m MODE] [-n PASSES]
 *                          [-o OUT] LIST
 *
 * LIST holds one message file per line; each goes to a fresh spamc
 * process (`spamc -d 127.0.0.1 -p PORT MODE -s 5000000 -t 300`, MODE -c by
 * default, -K for PING) with the file as its standard input, PASSES times
 * over the list. OUT (first pass only) gets "file<TAB>spamc's output" a
 * line, in list order. Prints one line: "WALL_MS CLIENT_CPU_MS", the wall
 * time of all the passes and the CPU the spamc processes used (their
 * rusage, reaped here).
 *
 * Why not a script: spawning from Python's thread pool cost about as much
 * CPU as the spamc processes themselves, on the 2 CPUs the servers under
 * test share; posix_spawn from one C loop costs next to nothing, so the
 * figures are the servers' and spamc's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct slot {
	pid_t pid;
	int fd;	   /* read end of the child's stdout, -1: not kept */
	size_t ix; /* list index */
};

static int
usage(void)
{
	fprintf(stderr, "usage: spamcdrive -p PORT [-c CONC] [-m MODE] "
			"[-n PASSES] [-o OUT] LIST\n");
	return 2;
}

static char **
read_list(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[4096], **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (*n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				exit(1);
			v = nv;
		}
		if ((v[(*n)++] = strdup(line)) == NULL)
			exit(1);
	}
	fclose(f);
	return v;
}

static int
spawn(struct slot *s, const char *file, const char *port, const char *mode,
    int keep)
{
	posix_spawn_file_actions_t fa;
	char *av[] = { "spamc", "-d", "127.0.0.1", "-p", (char *)port,
		(char *)mode, "-s", "5000000", "-t", "300", NULL };
	int p[2] = { -1, -1 }, rc;

	if (keep && pipe(p) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, file, O_RDONLY, 0);
	if (keep) {
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		posix_spawn_file_actions_addclose(&fa, p[0]);
		posix_spawn_file_actions_addclose(&fa, p[1]);
	} else {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
		    O_WRONLY, 0);
	}
	rc = posix_spawnp(&s->pid, "spamc", &fa, NULL, av, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (keep)
		close(p[1]);
	if (rc != 0) {
		if (keep)
			close(p[0]);
		return -rc;
	}
	s->fd = keep ? p[0] : -1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *port = NULL, *mode = "-c", *out = NULL;
	int conc = 4, passes = 1, opt;
	size_t n, next = 0, total, running = 0;
	char **files, **res;
	struct slot *slots;
	struct timespec t0, t1;
	struct rusage ru;
	FILE *o;

	while ((opt = getopt(argc, argv, "p:c:m:n:o:")) != -1) {
		switch (opt) {
		case 'p': port = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 'm': mode = optarg; break;
		case 'n': passes = atoi(optarg); break;
		case 'o': out = optarg; break;
		default: return usage();
		}
	}
	if (port == NULL || optind != argc - 1 || conc < 1 || passes < 1)
		return usage();
	if ((files = read_list(argv[optind], &n)) == NULL || n == 0) {
		fprintf(stderr, "spamcdrive: %s: no files\n", argv[optind]);
		return 1;
	}
	total = n * (size_t)passes;
	slots = calloc((size_t)conc, sizeof(*slots));
	res = calloc(n, sizeof(*res));
	if (slots == NULL || res == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (next < total || running > 0) {
		int st;
		pid_t pid;

		for (int i = 0; i < conc && next < total; i++) {
			if (slots[i].pid != 0)
				continue;
			slots[i].ix = next % n;
			if (spawn(&slots[i], files[slots[i].ix], port, mode,
				out != NULL && next < n) < 0) {
				perror("spamcdrive: spawn spamc");
				return 1;
			}
			next++;
			running++;
		}
		if ((pid = wait(&st)) < 0) {
			perror("spamcdrive: wait");
			return 1;
		}
		for (int i = 0; i < conc; i++) {
			char buf[4096];
			ssize_t k;

			if (slots[i].pid != pid)
				continue;
			/* spamc's few bytes sit in the pipe (< PIPE_BUF) */
			if (slots[i].fd >= 0) {
				k = read(slots[i].fd, buf, sizeof(buf) - 1);
				buf[k > 0 ? k : 0] = '\0';
				buf[strcspn(buf, "\r\n")] = '\0';
				res[slots[i].ix] = strdup(buf);
				close(slots[i].fd);
			}
			slots[i].pid = 0;
			running--;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_CHILDREN, &ru);
	if (out != NULL) {
		if ((o = fopen(out, "w")) == NULL) {
			perror(out);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			fprintf(o, "%s\t%s\n", files[i],
			    res[i] != NULL ? res[i] : "");
		fclose(o);
	}
	printf("%lld %lld\n",
	    (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000,
	    (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
	return 0;
}
