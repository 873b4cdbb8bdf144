#include <stdio.h>

#include "greet.h"

int greet(char *out, size_t size, const char *name)
{
    if (name == NULL || name[0] == '\0')
        name = GREET_DEFAULT_NAME;
    return snprintf(out, size, "Hello, %s!", name);
}
