/* ci-calc: evaluates the integer expression given as arguments and prints the result. */
#include <stdio.h>
#include <string.h>

#include "calc.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    char text[1024] = "";
    enum calc_status status;
    long result;
    int i;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("ci-calc %s\n", VERSION);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: ci-calc EXPRESSION...\n");
        return 2;
    }
    for (i = 1; i < argc; i++) {
        if (strlen(text) + strlen(argv[i]) + 2 > sizeof text) {
            fprintf(stderr, "ci-calc: expression too long\n");
            return 2;
        }
        strcat(text, argv[i]);
        strcat(text, " ");
    }
    status = calc_eval(text, &result);
    if (status != CALC_OK) {
        fprintf(stderr, "ci-calc: %s\n", calc_strerror(status));
        return 1;
    }
    printf("%ld\n", result);
    return 0;
}
