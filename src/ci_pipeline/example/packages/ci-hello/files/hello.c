/* ci-hello: greets the world, or whoever is named on the command line. */
#include <stdio.h>
#include <string.h>

#include "greet.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    char line[256];
    const char *name = GREET_DEFAULT_NAME;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("ci-hello %s\n", VERSION);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "usage: ci-hello [NAME]\n");
        return 2;
    }
    if (argc == 2)
        name = argv[1];
    if (greet(line, sizeof line, name) >= (int)sizeof line) {
        fprintf(stderr, "ci-hello: name too long\n");
        return 1;
    }
    puts(line);
    return 0;
}
