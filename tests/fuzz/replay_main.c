/*
 * replay_main - run a libFuzzer target over files without libFuzzer
 *
 * make check links every tests/fuzz/<name>_fuzz.c with this driver in the
 * sanitizer build and feeds it the seed corpus tests/fuzz/<name>/ and the
 * saved crashers corpus/regress/<name>/, so every fix stays fixed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf;
		long len;

		if (f == NULL) {
			perror(argv[i]);
			return 2;
		}
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		if (len < 0 || (buf = malloc((size_t)len + 1)) == NULL) {
			fclose(f);
			return 2;
		}
		if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
			fclose(f);
			free(buf);
			return 2;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)len);
		free(buf);
		n++;
	}
	printf("replayed %d inputs\n", n);
	return 0;
}
