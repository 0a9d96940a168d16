/*
 * replay_main.c - the main of every fuzz target's replay program (tests/fuzz/CMakeLists.txt):
 * feeds each file named on the command line, or each file of each directory named there (in
 * name order), to LLVMFuzzerTestOneInput once, as libFuzzer would. ctest runs it over the
 * committed corpus and regression inputs under ASan+UBSan in the normal (gcc) build, so every
 * input ever found stays a test without clang. Exit 0 when at least one input ran and none
 * crashed (a crash aborts with the sanitizer's report and the file name printed before it).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional setup, as libFuzzer calls it (weak: a target need not define it). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path)
{
    static uint8_t buf[1 << 20];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    /* a copy of exactly n bytes, so ASan sees a read past the input */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return -1;
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    return 0;
}

static int replay_dir(const char *dir, int *files)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        perror(dir);
        return -1;
    }
    int r = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (r == 0 && names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            r = replay_file(path);
            (*files)++;
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int main(int argc, char **argv)
{
    int files = 0;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        int r;
        if (S_ISDIR(st.st_mode)) {
            r = replay_dir(argv[i], &files);
        } else {
            r = replay_file(argv[i]);
            files++;
        }
        if (r < 0)
            return 2;
    }
    printf("%s: replayed %d inputs\n", argv[0], files);
    return files > 0 ? 0 : 1;
}
