/*
 * Replays fuzz inputs without libFuzzer: every file named on the command
 * line, or every file in a named directory, through LLVMFuzzerTestOneInput.
 * This is how the checked-in corpus (reliability/corpus/) runs as a test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;
static unsigned long long bytes;

static int replay_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	replayed++;
	bytes += n;
	return 0;
}

static int replay(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);

	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;
	if (d == NULL) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char full[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		rc |= replay_file(full);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;
	uint8_t empty = 0;

	LLVMFuzzerTestOneInput(&empty, 0); /* the empty program */
	for (int i = 1; i < argc; i++)
		rc |= replay(argv[i]);
	printf("fuzz_replay: %lu inputs replayed (%llu bytes), every call answered as the model predicts\n",
	       replayed, bytes);
	if (replayed == 0 && argc > 1) {
		fprintf(stderr, "fuzz_replay: no inputs found\n");
		return 1;
	}
	return rc;
}
