/* Unit tests of greet(): run by `make check`. */
#include <stdio.h>
#include <string.h>

#include "greet.h"

static int failures;

static void expect(const char *name, const char *wanted)
{
    char out[64];

    greet(out, sizeof out, name);
    if (strcmp(out, wanted) != 0) {
        fprintf(stderr, "FAIL: greet(%s) = \"%s\", wanted \"%s\"\n", name ? name : "NULL", out, wanted);
        failures++;
    }
}

int main(void)
{
    char tiny[8];

    expect("world", "Hello, world!");
    expect("Fedora", "Hello, Fedora!");
    expect("", "Hello, world!");
    expect(NULL, "Hello, world!");
    if (greet(tiny, sizeof tiny, "a long name") != (int)strlen("Hello, a long name!")) {
        fprintf(stderr, "FAIL: greet() does not report the length it needs\n");
        failures++;
    }
    printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
